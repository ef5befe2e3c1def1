"""Seeds derived from (run seed, named key path): no global RNG, any image reproducible alone.

Image ``i`` of a run draws from ``SeedSequence(run_seed, spawn_key=("image", i, concern))``
(strings hashed with CRC-32), so it can be rendered on any worker, in any order.
"""
from __future__ import annotations

import zlib

import numpy as np

Key = int | str


def _key_int(part: Key) -> int:
    if isinstance(part, str):
        return zlib.crc32(part.encode("utf-8"))
    if part < 0:
        raise ValueError(f"seed key parts must be >= 0, got {part}")
    return int(part)


def seed_sequence(run_seed: int, *key: Key) -> np.random.SeedSequence:
    """The seed sequence for one concern of one run, e.g. ``("scene", 3, "lights")``."""
    return np.random.SeedSequence(run_seed, spawn_key=tuple(_key_int(k) for k in key))


def rng_for(run_seed: int, *key: Key) -> np.random.Generator:
    """A generator for one concern; the same arguments always give the same stream."""
    return np.random.default_rng(seed_sequence(run_seed, *key))


def seed_int(run_seed: int, *key: Key) -> int:
    """A 31-bit integer seed (fits Cycles' seed and JSON) derived from the same key path."""
    return int(seed_sequence(run_seed, *key).generate_state(1, dtype=np.uint32)[0] >> 1)
