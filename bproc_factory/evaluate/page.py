"""The evaluation's HTML page: global figures, the ranked factors with a plot of miss rate against
each of the top ones, and a contact sheet of missed instances; opens offline."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import cv2
import matplotlib
import numpy as np
from pycocotools import mask as mask_utils

from bproc_factory.evaluate.factors import Factor
from bproc_factory.evaluate.predictions import to_rle
from bproc_factory.qa import grid, instance_tile

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PLOTTED = 6     # factors with a plot
SHEET_MISSES = 24


def factor_plot(factor: Factor, path: Path) -> Path:
    """Miss rate per bin of one factor with its 95 % interval; the failure region in red."""
    fig, ax = plt.subplots(figsize=(4.6, 2.8))
    labels = [_bin_label(b.values, factor.kind) for b in factor.bins]
    inside = [_in_region(b.values, factor) for b in factor.bins]
    rates = [b.miss_rate for b in factor.bins]
    errors = np.array([[r - b.ci[0] for r, b in zip(rates, factor.bins)],
                       [b.ci[1] - r for r, b in zip(rates, factor.bins)]])
    ax.bar(range(len(rates)), rates, yerr=np.clip(errors, 0, None), capsize=3,
           color=["#cc3311" if i else "#4477aa" for i in inside])
    ax.axhline(factor.miss_rate_out, color="#555555", lw=0.8, ls="--")
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right", fontsize=6)
    ax.set_ylim(0, 1)
    ax.set_ylabel("miss rate", fontsize=8)
    ax.set_title(factor.factor, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _bin_label(values: list[Any], kind: str) -> str:
    if kind == "categorical":
        return str(values[0])[:18]
    low, high = values
    return f"{low:.3g}" if low == high else f"{low:.3g}–{high:.3g}"


def _in_region(values: list[Any], factor: Factor) -> bool:
    if factor.kind == "categorical":
        return values[0] in factor.region
    return factor.region[0] <= values[0] and values[1] <= factor.region[1]


def miss_sheet(misses: list[dict[str, Any]], images: dict[Any, dict[str, Any]], names: dict[int, str],
               image_dir: Path, path: Path) -> Path | None:
    """Close-ups of up to ``SHEET_MISSES`` missed instances (the first ones in image order), the
    instance outlined; None when no image file can be read."""
    tiles, captions = [], []
    for ann in misses:
        if len(tiles) == SHEET_MISSES:
            break
        image = images[ann["image_id"]]
        picture = cv2.imread(str(image_dir / image["file_name"]), cv2.IMREAD_COLOR)
        if picture is None:
            continue
        binary = mask_utils.decode(to_rle(ann["segmentation"], image["height"], image["width"], "")) \
            if "segmentation" in ann else np.zeros(picture.shape[:2], np.uint8)
        tiles.append(instance_tile(picture, binary.astype(np.int32), 1, [round(v) for v in ann["bbox"]]))
        captions.append(f"{names.get(ann['category_id'], '?')} {Path(image['file_name']).stem} #{ann['id']}")
    if not tiles:
        return None
    cv2.imwrite(str(path), grid(tiles, 6, (160, 160), captions))
    return path


def write_page(path: Path, summary: dict[str, Any], factors: list[Factor], plots: dict[str, str],
               sheet: str | None, hard_cases: dict[str, Any] | None) -> Path:
    """index.html beside its plots and sheet (relative links, so the folder can be moved)."""
    e = html.escape
    stats = summary["coco"]["stats"]
    rows = "".join(f"<tr><td>{e(k)}</td><td>{'–' if v is None else f'{v:.3f}'}</td></tr>" for k, v in stats.items())
    recall = summary["recall_by_category"]
    cats = "".join(f"<tr><td>{e(k)}</td><td>{'–' if v is None else f'{v:.3f}'}</td>"
                   f"<td>{'–' if k not in recall else f'{recall[k]:.3f}'}</td></tr>"
                   for k, v in summary["coco"]["per_category_AP"].items())
    table = "".join(
        f"<tr><td>{k + 1}</td><td><code>{e(f.factor)}</code></td><td>{e(f.kind)}</td><td>{e(_region(f))}</td>"
        f"<td>{f.miss_rate_in:.3f} ({f.n_in})</td><td>{f.miss_rate_out:.3f} ({f.n_out})</td><td>{f.z:.1f}</td></tr>"
        for k, f in enumerate(factors[:15]))
    conditions = "".join(f"<p><b>{k + 1}.</b> <code>{e(c['factor'])}</code> in "
                         f"{e(_region_of(c['kind'], c['region']))}: "
                         f"{c['miss_rate_in']:.0%} missed there ({c['n_in']}), {c['miss_rate_out']:.0%} elsewhere "
                         f"({c['n_out']}), z {c['z']:.1f}</p>" for k, c in enumerate(summary["conditions"])) \
        or "<p>None stands out (z below 4).</p>"
    figures = "".join(f'<img src="{e(src)}" alt="{e(name)}">' for name, src in plots.items())
    narrowed = "<p>No config (not a factory dataset): no hard cases.</p>" if hard_cases is None else (
        "<p><a href=\"hard_cases.yaml\">hard_cases.yaml</a> narrows: " +
        (", ".join(f"<code>{e(f)}</code> → <code>{e(', '.join(keys))}</code>"
                   for f, keys in hard_cases["applied"].items())
         or "nothing (no factor stands out)") + "</p>" +
        "".join(f"<p>Not mapped: <code>{e(f)}</code> ({e(why)})</p>" for f, why in hard_cases["unmapped"].items()))
    body = f"""<!doctype html><html><head><meta charset="utf-8"><title>Evaluation</title><style>
body{{font-family:sans-serif;margin:24px;max-width:1100px}}table{{border-collapse:collapse;margin:8px 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px}}img{{margin:4px;max-width:100%}}</style></head><body>
<h1>Evaluation</h1><p>Predictions <code>{e(summary['predictions'])}</code> on <code>{e(summary['dataset'])}</code>.</p>
<p>{summary['instances']} instances in {summary['images']} images; {summary['matched']} found,
{summary['missed']} missed (IoU ≥ {summary['iou']}, score ≥ {summary['min_score']}, task {e(summary['task'])});
{summary['false_positives']} false positives.</p>
<h2>COCO figures</h2><table>{rows}</table>
<h2>Per category</h2><table><tr><th>category</th><th>AP</th><th>recall</th></tr>{cats}</table>
<h2>Failure conditions</h2><p>Chosen one after another: each explains the misses the ones above it leave
(a factor that fails only through another drops out).</p>{conditions}
<h2>Every factor that goes with misses</h2>
<table><tr><th>#</th><th>factor</th><th>kind</th><th>region</th><th>miss rate in (n)</th>
<th>out (n)</th><th>z</th></tr>{table}</table>{figures}
<h2>Hard cases</h2>{narrowed}
<h2>Missed instances</h2>{f'<img src="{e(sheet)}" alt="missed instances">' if sheet else '<p>None to show.</p>'}
</body></html>"""
    path.write_text(body, encoding="utf-8")
    return path


def _region(f: Factor) -> str:
    return _region_of(f.kind, f.region)


def _region_of(kind: str, region: list[Any]) -> str:
    if kind == "categorical":
        return ", ".join(map(str, region))
    return f"{region[0]:.4g} … {region[1]:.4g}"
