"""``report``: a static HTML page (opens offline, no server) with plots and contact sheets."""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bproc_factory.dataset import Dataset, annotations_by_image, category_names, open_dataset
from bproc_factory.qa import plots, sheets
from bproc_factory.qa.table import build_tables, write_table

SHEET_TILES = 12
TILE = (240, 180)
PARAM_PREFIXES = ("sampled.", "subset.")

# After load, the page records how many of its images decoded: a headless browser can read it back.
_LOADED_SCRIPT = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images-total", imgs.length);
  document.body.setAttribute("data-images-loaded", ok);
});
</script>"""


def build_report(root: Path, out: Path) -> Path:
    """Write ``out/index.html`` with plots, contact sheets and the parameter tables; return its path."""
    dataset, identity, coco = open_dataset(root)
    for sub in ("plots", "sheets", "tables"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    params, instances = build_tables(root)
    tables = write_table(params, out / "tables" / "params") + write_table(instances, out / "tables" / "instances")
    figures, constants = _plots(params, instances, out / "plots")
    skipped: list[str] = []
    sheet_files = _sheets(dataset, coco, instances, out / "sheets", skipped)
    page = _page(root, coco, identity, instances, figures, constants, sheet_files, tables, skipped, out)
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def _plots(params: list[dict], instances: list[dict],
           folder: Path) -> tuple[list[tuple[str, Path]], list[tuple[str, Any]]]:
    """Label statistics, then one plot per sampled value that varies, per image and per object:
    whole numbers with few values and categorical ones as bar charts, other numbers as
    histograms; and the sampled values that never vary, with their value (no plot each)."""
    figs = [("Class balance", plots.class_balance(instances, params, folder / "class_balance.png")),
            ("Instances per image", plots.histogram([r["instances"] for r in params], "Instances per image",
                                                    "instances", folder / "instances_per_image.png")),
            ("Box size", plots.per_category_histogram(
                [{**r, "size": (r["bbox_w"] * r["bbox_h"]) ** 0.5} for r in instances], "size",
                "Box size (sqrt of box area)", "pixels", folder / "box_size.png", log=True)),
            ("Box aspect", plots.per_category_histogram(
                [{**r, "aspect": r["bbox_w"] / r["bbox_h"]} for r in instances], "aspect",
                "Box aspect (width / height)", "ratio", folder / "box_aspect.png", log=True)),
            ("Mask area", plots.per_category_histogram(instances, "area_px", "Visible mask area",
                                                        "pixels", folder / "mask_area.png", log=True))]
    if any(r.get("object.visib_fract") is not None for r in instances):  # amodal labels
        figs += [("Visible fraction", plots.per_category_histogram(
                     instances, "object.visib_fract", "Visible fraction (visib_fract)", "visible / amodal pixels",
                     folder / "visib_fract.png")),
                 ("Truncation", plots.per_category_histogram(
                     instances, "object.truncated", "Truncation (share outside the image)", "share",
                     folder / "truncated.png"))]
    constants = []
    for rows, scope in ((params, "image"), (instances, "object")):
        for col in plots.numeric_columns(rows, PARAM_PREFIXES) + plots.categorical_columns(rows, PARAM_PREFIXES):
            title = col if scope == "image" else f"{col} (per object)"
            values = [r[col] for r in rows if r.get(col) is not None]
            path = folder / f"{scope}_{_slug(col)}.png"
            kind = plots.kind_of(values)
            if kind == "constant":
                constants.append((title, values[0]))
            elif kind == "bars":
                figs.append((title, plots.bar_counts(values, title, path)))
            else:
                figs.append((title, plots.histogram(values, title, col, path)))
    return figs, constants


def _sheets(dataset: Dataset, coco: dict[str, Any], instances: list[dict], folder: Path,
            skipped: list[str]) -> list[tuple[str, Path]]:
    """Contact sheets: the first images with their labels, and close-ups of the smallest and of the
    most occluded instances.
    Images whose files cannot be read are left out and listed in ``skipped``."""
    by_image = annotations_by_image(coco)
    names = category_names(coco)

    def load(image_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        image = cv2.imread(str(dataset.image_path(image_id)))
        mask = cv2.imread(str(dataset.mask_path(image_id)), cv2.IMREAD_UNCHANGED)
        if image is None or mask is None:
            skipped.append(f"image {image_id}: image or mask file unreadable")
            return None
        return image, mask

    out = []
    first = [(im["id"], load(im["id"])) for im in coco["images"][:SHEET_TILES]]
    first = [(i, pair) for i, pair in first if pair is not None]
    if first:
        tiles = [sheets.overlay(*pair, by_image.get(i, []), names) for i, pair in first]
        out.append(("Images with their labels", _write(folder / "images.jpg", sheets.grid(
            tiles, 4, TILE, [f"#{i}" for i, _ in first]))))
    occluded = sorted((r for r in instances if r.get("object.visib_fract") is not None
                       and r["object.visib_fract"] < 1.0), key=lambda r: r["object.visib_fract"])
    for title, rows, caption, name in (
            ("Smallest instances", sorted(instances, key=lambda r: r["area_px"]),
             lambda r: f"{r['area_px']} px", "smallest_instances.jpg"),
            ("Most occluded instances", occluded, lambda r: f"{r['object.visib_fract']:.2f} visible",
             "most_occluded.jpg")):
        picked = [(r, pair) for r, pair in ((r, load(r["image_index"])) for r in rows[:SHEET_TILES]) if pair]
        if picked:
            tiles = [sheets.instance_tile(*pair, r["instance_id"], [r["bbox_x"], r["bbox_y"], r["bbox_w"],
                                                                     r["bbox_h"]]) for r, pair in picked]
            captions = [f"#{r['image_index']} {r['category']} {caption(r)}" for r, _ in picked]
            out.append((title, _write(folder / name, sheets.grid(tiles, 6, (160, 160), captions))))
    return out


def _write(path: Path, image: np.ndarray) -> Path:
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 88])
    return path


def _page(root: Path, coco: dict, identity: dict, instances: list[dict], figures: list[tuple[str, Path]],
          constants: list[tuple[str, Any]], sheet_files: list[tuple[str, Path]], tables: list[Path],
          skipped: list[str], out: Path) -> str:
    esc = html.escape

    def rel(p: Path) -> str:
        return esc(p.relative_to(out).as_posix())

    def figure(title: str, path: Path) -> str:
        return f'<figure><img src="{rel(path)}" alt="{esc(title)}"></figure>'

    counts = "".join(f"<tr><td>{esc(c['name'])}</td><td>{c['id']}</td>"
                     f"<td>{sum(1 for r in instances if r['category_id'] == c['id'])}</td></tr>"
                     for c in coco["categories"])
    label_html = "".join(figure(t, p) for t, p in figures if not t.startswith(PARAM_PREFIXES))
    param_html = "".join(figure(t, p) for t, p in figures if t.startswith(PARAM_PREFIXES))
    constant_html = ("<p>The same in every image or object:</p><table><tr><th>value</th><th>is</th></tr>"
                     + "".join(f"<tr><td><code>{esc(t)}</code></td><td>{esc(str(v))}</td></tr>" for t, v in constants)
                     + "</table>") if constants else ""
    sheet_html = "".join(f'<h3>{esc(t)}</h3><img class="sheet" src="{rel(p)}" alt="{esc(t)}">'
                         for t, p in sheet_files)
    skipped_html = ("<p><b>Left out of the sheets:</b> " + esc("; ".join(skipped)) +
                    " (run <code>bproc-factory validate</code>)</p>") if skipped else ""
    table_links = " ".join(f'<a href="{rel(p)}">{esc(p.name)}</a>' for p in tables)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Dataset report: {esc(root.name)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
figure {{ display: inline-block; margin: 0.5em; vertical-align: top; }}
img.sheet {{ max-width: 100%; }}
.params img {{ width: 300px; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; }}
code {{ font-size: 0.85em; }}
</style></head>
<body>
<h1>Dataset report: {esc(str(root))}</h1>
<p>{len(coco["images"])} images, {len(coco["annotations"])} instances, {len(coco["categories"])} categories.
Config <code>{esc(str(identity.get("config_sha256", "")))}</code>, run seed {esc(str(identity.get("run_seed")))}.</p>
<table><tr><th>category</th><th>id</th><th>instances</th></tr>{counts}</table>
<p>Per-image and per-instance parameter tables: {table_links}</p>
<h2>Labels</h2>
{label_html}
<h2>Sampled parameters</h2>
<p>One plot per sampled value: per image, and per object where marked (dotted paths as in the
tables and in each image's meta).</p>
<div class="params">{param_html}</div>
{constant_html}
<h2>Contact sheets</h2>
{skipped_html}
{sheet_html}
{_LOADED_SCRIPT}
</body></html>
"""
