"""``merge``: combine datasets or shards into one folder without renumbering anything.

Image ids are global indices and annotation ids derive from them, so shards of one run merge by
union. Categories must agree by name and id; an image id present in two sources must be the very
same image (then it is kept once), otherwise the merge is refused.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bproc_factory.dataset.datasheet import write_datasheet
from bproc_factory.dataset.files import atomic_write_json, link_or_copy, require_empty
from bproc_factory.dataset.folder import RUN_FILE, Dataset
from bproc_factory.dataset.records import open_dataset
from bproc_factory.dataset.shards import COMPLETE_FILE, SHARD_NAME
from bproc_factory.errors import FactoryError

# Identity keys that may differ between shards of one run without changing what they hold.
_RUN_SPECIFIC = ("config_path", "merged_from", "asset_info", "sources")
_FILES = ("image_path", "mask_path", "meta_path")  # differs between shards of one run without changing what they hold


class MergeError(FactoryError, ValueError):
    """The sources cannot be merged; the message names the sources and ids in conflict."""


@dataclass(frozen=True)
class MergeSummary:
    """Where the merge went, its image count, images held by two sources, and the source count."""

    output: Path
    images: int
    duplicates: int
    sources: int


def merge_datasets(sources: list[Path], out: Path) -> MergeSummary:
    """Merge ``sources`` into the new folder ``out``; refuse conflicts with a clear message."""
    if len(sources) < 2:
        raise MergeError("give at least two datasets to merge")
    unfinished = [src for src in sources if SHARD_NAME.fullmatch(src.name) and not (src / COMPLETE_FILE).is_file()]
    if unfinished:
        raise MergeError(f"{unfinished[0]}: shard not complete (no {COMPLETE_FILE} marker); re-run its "
                         "render --shard command, which renders only what is missing")
    identities = [open_dataset(src)[1] for src in sources]
    require_empty(out, "merge")
    suffixes = {i.get("image_suffix", ".png") for i in identities}
    if len(suffixes) > 1:
        raise MergeError(f"the sources store images as {sorted(suffixes)}; merge needs one format")
    suffix = suffixes.pop()
    categories = _merged_categories(sources, identities)
    owners: dict[int, Dataset] = {}
    records: dict[int, dict[str, Any]] = {}
    duplicates = 0
    for ds in (Dataset(src, suffix) for src in sources):
        found, broken = ds.load_records()
        if broken:
            raise MergeError(f"{broken[0]}: damaged (unreadable, cut short or of the wrong size); re-render or "
                             "validate the source first")
        for i, record in found.items():
            if i in owners:
                if not _same_image(owners[i], ds, i):
                    raise MergeError(f"image {i} is in both {owners[i].root} and {ds.root} with "
                                     "different content; only disjoint image ids merge (render "
                                     "the second dataset with --start past the first one's ids)")
                duplicates += 1
                continue
            owners[i] = ds
            records[i] = record
    merged = Dataset(out, suffix)
    merged.check_writable()
    for i, source in sorted(owners.items()):
        for kind in _FILES:
            link_or_copy(getattr(source, kind)(i), getattr(merged, kind)(i))
    identity = _merged_identity(sources, identities, categories)
    atomic_write_json(out / RUN_FILE, identity)
    merged.write_coco(records, categories, identity)
    write_datasheet(out, identity, records)
    return MergeSummary(out, len(records), duplicates, len(sources))


def _same_image(a: Dataset, b: Dataset, i: int) -> bool:
    return all(getattr(a, kind)(i).read_bytes() == getattr(b, kind)(i).read_bytes() for kind in _FILES)


def _merged_categories(sources: list[Path], identities: list[dict[str, Any]]) -> dict[str, int]:
    names: dict[str, tuple[int, Path]] = {}
    ids: dict[int, tuple[str, Path]] = {}
    for src, identity in zip(sources, identities):
        for name, cid in identity["categories"].items():
            if name in names and names[name][0] != cid:
                raise MergeError(f"category '{name}' has id {names[name][0]} in {names[name][1]} but {cid} "
                                 f"in {src}; set the same `categories` ids in both configs")
            if cid in ids and ids[cid][0] != name:
                raise MergeError(f"category id {cid} is '{ids[cid][0]}' in {ids[cid][1]} but '{name}' "
                                 f"in {src}; set distinct `categories` ids in the configs")
            names.setdefault(name, (cid, src))
            ids.setdefault(cid, (name, src))
    return {name: cid for name, (cid, _) in sorted(names.items(), key=lambda kv: kv[1][0])}


def _merged_identity(sources: list[Path], identities: list[dict[str, Any]],
                     categories: dict[str, int]) -> dict[str, Any]:
    """One run's identity when the sources are its shards; otherwise the sources' identities, each
    with its config and inputs. Sources that were merges themselves contribute their own sources."""
    flat = [m for s, i in zip(sources, identities) for m in _source_records(s, i)]
    core = [{k: v for k, v in i.items() if k not in _RUN_SPECIFIC} for i in identities]
    if all(c == core[0] for c in core):
        return {**identities[0], "merged_from": [m["path"] for m in flat]}
    digest = hashlib.sha256(json.dumps([m["identity"] for m in flat], sort_keys=True).encode()).hexdigest()
    return {"config_sha256": f"merged:{digest}", "run_seed": None, "categories": categories,
            "image_suffix": identities[0].get("image_suffix", ".png"),
            "inputs": {"merged": sorted({json.dumps(m["identity"].get("inputs"), sort_keys=True)
                                         for m in flat})},
            "merged_from": [m["path"] for m in flat], "sources": flat}


def _source_records(path: Path, identity: dict[str, Any]) -> list[dict[str, Any]]:
    """The leaf sources behind one merge input: itself, or what it was merged from."""
    if identity.get("sources"):
        return list(identity["sources"])
    leaf = {k: v for k, v in identity.items() if k != "merged_from"}
    paths = identity.get("merged_from") or [str(path.resolve())]
    return [{"path": p, "identity": leaf} for p in paths]
