"""Seeds derived from (entropy, named key path): no global RNG, any image reproducible alone.

A run's seed gives each scene and image its own recorded seed (``seed_int(run_seed, "image", i)``),
and each concern draws from its own stream of that (``rng_for(image_seed, "camera")``), so an image
can be rendered on any worker, in any order. String key parts are hashed with CRC-32.
"""
from __future__ import annotations

import zlib

import numpy as np

from bproc_factory.config.distributions import Distribution, sample

Key = int | str


def _key_int(part: Key) -> int:
    if isinstance(part, str):
        return zlib.crc32(part.encode("utf-8"))
    if part < 0:
        raise ValueError(f"seed key parts must be >= 0, got {part}")
    return int(part)


def seed_sequence(entropy: int, *key: Key) -> np.random.SeedSequence:
    """The seed sequence for one key path, e.g. ``(run_seed, "scene", 3)``."""
    return np.random.SeedSequence(entropy, spawn_key=tuple(_key_int(k) for k in key))


def rng_for(entropy: int, *key: Key) -> np.random.Generator:
    """A generator for one key path; the same arguments always give the same stream."""
    return np.random.default_rng(seed_sequence(entropy, *key))


def seed_int(entropy: int, *key: Key) -> int:
    """A 31-bit integer seed (fits Cycles' seed and JSON) for one key path."""
    return int(seed_sequence(entropy, *key).generate_state(1, dtype=np.uint32)[0] >> 1)


def draw(dist: Distribution, seed: int, *key: Key) -> float:
    """One value of ``dist`` from the stream named by ``key``."""
    return sample(dist, rng_for(seed, *key))
