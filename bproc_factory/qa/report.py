"""``report``: a static HTML page (opens offline, no server) with plots and contact sheets."""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import cv2

from bproc_factory.dataset import COCO_FILE, RUN_FILE
from bproc_factory.qa import plots, sheets
from bproc_factory.qa.records import category_names, read_json, require_dataset
from bproc_factory.qa.table import build_tables, write_table

SHEET_TILES = 12
TILE = (240, 180)

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
    require_dataset(root)
    coco, identity = read_json(root / COCO_FILE), read_json(root / RUN_FILE)
    names = category_names(coco)
    for sub in ("plots", "sheets", "tables"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    params, instances = build_tables(root)
    tables = write_table(params, out / "tables" / "params") + write_table(instances, out / "tables" / "instances")
    figures = _plots(params, instances, out / "plots")
    sheet_files = _sheets(root, coco, identity.get("image_suffix", ".png"), names, instances, out / "sheets")
    page = _page(root, coco, identity, instances, figures, sheet_files, tables, out)
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def _plots(params: list[dict], instances: list[dict], folder: Path) -> list[tuple[str, Path]]:
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
    for key in ("object.visib_fract", "object.truncated"):
        if any(r.get(key) is not None for r in instances):
            figs.append((key, plots.per_category_histogram(instances, key, key, "fraction",
                                                           folder / f"{_slug(key)}.png")))
    for col in plots.numeric_columns(params, ("sampled.", "subset.")):
        figs.append((col, plots.histogram([r[col] for r in params if r.get(col) is not None], col, col,
                                          folder / f"param_{_slug(col)}.png")))
    return figs


def _sheets(root: Path, coco: dict[str, Any], suffix: str, names: dict[int, str],
            instances: list[dict], folder: Path) -> list[tuple[str, Path]]:
    """Contact sheets: the first images, the smallest instances and (if known) the most occluded."""
    by_image: dict[int, list[dict]] = {}
    for ann in coco["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)

    def load(image_id: int):
        image = cv2.imread(str(root / "images" / f"{image_id:06d}{suffix}"))
        mask = cv2.imread(str(root / "masks" / f"{image_id:06d}.png"), cv2.IMREAD_UNCHANGED)
        return image, mask

    out = []
    first = [im["id"] for im in coco["images"][:SHEET_TILES]]
    if first:
        tiles = [sheets.overlay(*load(i), by_image.get(i, []), names) for i in first]
        out.append(("Images with their labels", _write(folder / "images.jpg", sheets.grid(
            tiles, 4, TILE, [f"#{i}" for i in first]))))
    ranked = [("Smallest instances", sorted(instances, key=lambda r: r["area_px"]), "area_px", "px")]
    occluded = [r for r in instances if r.get("object.visib_fract") is not None]
    if occluded:
        ranked.append(("Most occluded instances", sorted(occluded, key=lambda r: r["object.visib_fract"]),
                       "object.visib_fract", "visible"))
    for title, rows, key, unit in ranked:
        rows = rows[:SHEET_TILES]
        if rows:
            tiles = [sheets.instance_tile(*load(r["image_index"]), r["instance_id"],
                                          [r["bbox_x"], r["bbox_y"], r["bbox_w"], r["bbox_h"]]) for r in rows]
            captions = [f"#{r['image_index']} {r['category']} {r[key]:.3g} {unit}" for r in rows]
            out.append((title, _write(folder / f"{_slug(title.lower())}.jpg",
                                      sheets.grid(tiles, 6, (160, 160), captions))))
    return out


def _write(path: Path, image) -> Path:
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 88])
    return path


def _page(root: Path, coco: dict, identity: dict, instances: list[dict],
          figures: list[tuple[str, Path]], sheet_files: list[tuple[str, Path]], tables: list[Path],
          out: Path) -> str:
    esc = html.escape

    def rel(p: Path) -> str:
        return esc(p.relative_to(out).as_posix())

    counts = "".join(f"<tr><td>{esc(c['name'])}</td><td>{c['id']}</td>"
                     f"<td>{sum(1 for r in instances if r['category_id'] == c['id'])}</td></tr>"
                     for c in coco["categories"])
    def figure(title: str, path: Path) -> str:
        return f'<figure><img src="{rel(path)}" alt="{esc(title)}"></figure>'

    figure_html = "".join(figure(t, p) for t, p in figures if not t.startswith(("sampled.", "subset.")))
    param_html = "".join(figure(t, p) for t, p in figures if t.startswith(("sampled.", "subset.")))
    sheet_html = "".join(f'<h3>{esc(t)}</h3><img class="sheet" src="{rel(p)}" alt="{esc(t)}">'
                         for t, p in sheet_files)
    table_links = " ".join(f'<a href="{rel(p)}">{esc(p.name)}</a>' for p in tables)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Dataset report: {esc(root.name)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
figure {{ display: inline-block; margin: 0.5em; vertical-align: top; }}
figcaption {{ font-size: 0.8em; color: #555; }}
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
{figure_html}
<h2>Sampled parameters</h2>
<p>One histogram per sampled value (dotted paths as in the tables and in each image's meta).</p>
<div class="params">{param_html}</div>
<h2>Contact sheets</h2>
{sheet_html}
{_LOADED_SCRIPT}
</body></html>
"""
