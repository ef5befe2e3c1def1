"""``DATASET.md``: the datasheet every dataset folder gets — what, from what, how, and its limits."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from bproc_factory import __version__
from bproc_factory.dataset.files import atomic_write_bytes

LABEL_POLICY = """\
- Masks come from Cycles' object-index pass rendered through each pixel's centre (pinhole,
  mid-exposure, then warped with the lens distortion by nearest neighbour): exact by construction.
  0 is background; every surface of the environment scene is background.
- Surfaces with alpha below the render's `pass_alpha_threshold` are see-through in the masks.
- One COCO annotation per instance with at least `labels.min_visible_px` visible pixels and a
  visible fraction of at least `labels.min_visib_fract`: compressed RLE, tight `bbox`, `area` = pixel
  count, `iscrowd` 0. Below those minimums an instance is dropped (its pixels stay in the mask; meta
  says `label: dropped`) or, with `below_threshold: ignore`, kept with `iscrowd` 1; groups labelled
  `ignore` always get `iscrowd` 1 and groups labelled `background` are id 0 in the masks. Placed
  objects with no visible pixel get no annotation (meta: `label: not visible`).
- Amodal labels (when `labels.amodal`): `segmentation_amodal` (RLE of the whole silhouette inside
  the image, rendered with the environment hidden and no object in front), `area_amodal`,
  `bbox_amodal`, `visib_fract` = area / area_amodal and `truncated` = share of the silhouette outside
  the image, measured on a canvas grown by `labels.amodal_margin` per side (meta marks
  `truncated_is_lower_bound` when the silhouette reaches past it).
- Annotation id = image id x 10000 + instance id; category ids never 0 and stable across shards."""

def limitations(config: dict[str, Any] | None) -> str:
    """The known limitations of a run's images, as its (resolved) config makes them: what it
    does not turn on is said, what it does is not."""
    objects = (config or {}).get("objects") or []
    poses = {group.get("pose", "upright") for group in objects}
    lines = ["- Masks are pinhole, mid-exposure geometry: motion blur and defocus blur the RGB, not the labels."]
    if "drop" not in poses:
        how = " or ".join(p for p in ("upright", "stable") if p in poses) or "upright"
        lines.append(f"- Objects stand on their placement areas ({how}) without touching; this config has no "
                     "physics settling, stacking or piles (an object group's `pose: drop` makes them).")
    scene = str((config or {}).get("scene", ".blend"))
    view = ((config or {}).get("render") or {}).get("view_transform") or ("agx" if scene.endswith(".blend") else "standard")
    if not (config or {}).get("sensor"):
        encoding = "sRGB with a hard clip" if view == "standard" else f"Blender's {view} view transform"
        lines.append(f"- No sensor model (noise, colour, JPEG): colours are Cycles' scene-linear output through "
                     f"{encoding}.")
    lines.append("- Polygon exports (YOLO) trace outer boundaries only; holes are filled.")
    return "\n".join(lines)


def _table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def datasheet(identity: dict[str, Any], records: dict[int, dict[str, Any]]) -> str:
    """The datasheet text for a dataset with this identity and these per-image records."""
    names = {cid: name for name, cid in identity.get("categories", {}).items()}
    instances, images_with = Counter(), Counter()
    for rec in records.values():
        cats = [names.get(a["category_id"], str(a["category_id"])) for a in rec["annotations"]]
        instances.update(cats)
        images_with.update(set(cats))
    provenance = Counter(tuple(sorted((k, v) for k, v in rec.get("provenance", {}).items()
                                      if k != "config_sha256")) for rec in records.values())
    subsets = Counter(str(rec["subset"]["name"]) for rec in records.values() if rec.get("subset"))
    sizes = Counter(f"{r['image']['width']}x{r['image']['height']}" for r in records.values())
    parts = [
        "# Dataset datasheet",
        f"Written by bproc_factory {__version__}. Regenerated after every run that writes this folder.",
        "## What was generated",
        f"{len(records)} images ({', '.join(f'{n} at {s}' for s, n in sorted(sizes.items()))}), "
        f"{sum(instances.values())} labelled instances in {len(names)} categories. "
        f"Image ids: {_ranges(sorted(records))}. Run seed: {identity.get('run_seed')}.",
        _table([(n, cid, instances[n], images_with[n]) for cid, n in sorted(names.items())],
               ("category", "id", "instances", "images")),
    ]
    if subsets:
        parts += ["## Subsets", _table(sorted(subsets.items()), ("subset", "images"))]
    parts += ["## Inputs",
              f"Config SHA-256: `{identity.get('config_sha256')}`"
              + (f" (from `{identity['config_path']}`)" if identity.get("config_path") else "") + "."]
    inputs = identity.get("inputs", {})
    if "scene" in inputs:
        parts.append(f"Scene file SHA-256: `{inputs['scene']}`.")
    info = identity.get("asset_info", {})
    if inputs.get("assets"):
        parts.append(_table([(name, info.get(name, {}).get("category", ""), f"`{sha[:16]}`",
                              info.get(name, {}).get("source") or "", info.get(name, {}).get("license") or "")
                             for name, sha in sorted(inputs["assets"].items())],
                            ("asset", "category", "SHA-256 (prefix)", "source", "licence")))
    if identity.get("merged_from"):
        parts.append("Merged from: " + ", ".join(f"`{m}`" for m in identity["merged_from"]) + ".")
    for source in identity.get("sources", []):
        src = source["identity"]
        parts += [f"### Source `{source['path']}`",
                  f"Config SHA-256 `{src.get('config_sha256')}`, run seed {src.get('run_seed')}, scene "
                  f"SHA-256 `{src.get('inputs', {}).get('scene')}`; assets: "
                  + ", ".join(f"{n} `{h[:16]}`" for n, h in sorted(src.get("inputs", {}).get("assets", {}).items()))
                  + "."]
        if src.get("config") is not None:
            parts.append("```yaml\n" + yaml.safe_dump(src["config"], sort_keys=False).rstrip() + "\n```")
    parts += ["## Software and devices",
              _table([(", ".join(f"{k} {v}" for k, v in key), n) for key, n in provenance.most_common()],
                     ("versions and render device", "images"))]
    if identity.get("config") is not None:
        parts += ["## Config (resolved, as validated)",
                  "```yaml\n" + yaml.safe_dump(identity["config"], sort_keys=False).rstrip() + "\n```"]
    parts += ["## Label policy", LABEL_POLICY, "## Known limitations", limitations(identity.get("config"))]
    return "\n\n".join(parts) + "\n"


def _ranges(ids: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``0-2, 5``."""
    if not ids:
        return "none"
    out, start, prev = [], ids[0], ids[0]
    for i in ids[1:] + [None]:
        if i is None or i != prev + 1:
            out.append(f"{start}-{prev}" if prev != start else f"{start}")
            start = i
        prev = i if i is not None else prev
    return ", ".join(out)


def write_datasheet(root: Path, identity: dict[str, Any], records: dict[int, dict[str, Any]]) -> None:
    atomic_write_bytes(root / "DATASET.md", datasheet(identity, records).encode("utf-8"))
