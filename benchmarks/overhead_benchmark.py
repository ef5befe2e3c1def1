"""Factory overhead: wall time of ``bproc-factory render`` over a plain BlenderProc script
(``plain_blenderproc.py``) rendering the same scenes, poses, lights and render settings.

The workload is the demo as it was before its photoreal work (``demo_before.yaml``: flat world, the
assets' own materials), which the plain script can re-create. Both are timed as whole commands (interpreter start, bpy import, scene load, rendering, writing
labels), alternating factory and plain runs so machine noise hits both alike; the ratio of the
median times is printed, for the factory with the plain script's outputs (RGB, instance masks,
COCO: ``labels.amodal=false``) and with the default config (which adds the amodal pass). The plain script re-creates the scenes from the factory's first run, and
the agreement of the two label sets (mean mask IoU per instance) shows the same scenes were drawn.

Usage: ``python benchmarks/overhead_benchmark.py [-n 4] [--resolution 640x480] [--repeats 2]``
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from photoreal_benchmark import plain_assets  # noqa: E402

BEFORE = REPO / "benchmarks" / "demo_before.yaml"


def workload(work: Path) -> tuple[Path, Path]:
    """The plain script can re-create what the demo was before its photoreal work (flat world, the
    assets' own materials): that config, with the assets copied without ``material``/``finish``,
    and the asset folder."""
    import yaml

    assets = plain_assets(work)
    config = yaml.safe_load(BEFORE.read_text())
    config["scene"] = str(REPO / "scenes" / "tabletop.blend")
    config["objects"] = [{**g, "assets": [str(assets / Path(a).name) for a in g["assets"]]}
                         for g in config["objects"]]
    path = work / "overhead.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, assets


def _timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def _mean_instance_iou(factory: Path, plain: Path) -> tuple[float, int]:
    """Mean over the factory's annotations of the best same-category mask IoU in the plain COCO."""
    fac = json.loads((factory / "coco.json").read_text())
    pla = json.loads((plain / "coco_annotations.json").read_text())
    by_image: dict[int, list[dict]] = {}
    for ann in pla["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    ious = []
    for ann in fac["annotations"]:
        cands = [c for c in by_image.get(ann["image_id"], []) if c["category_id"] == ann["category_id"]]
        if not cands:
            ious.append(0.0)
            continue
        plain_rles = [mask_utils.frPyObjects(c["segmentation"], *c["segmentation"]["size"]) for c in cands]
        ious.append(float(np.max(mask_utils.iou(plain_rles, [ann["segmentation"]], [0]))))
    return float(np.mean(ious)), len(ious)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=4, help="images per run (default 4)")
    parser.add_argument("--resolution", default="640x480")
    parser.add_argument("--repeats", type=int, default=2, help="factory/plain pairs (default 2)")
    args = parser.parse_args()
    width, height = map(int, args.resolution.split("x"))
    f = 620 * width / 640
    work = Path(tempfile.mkdtemp(prefix="bpf_overhead_"))
    try:
        factory_s, modal_s, plain_s = [], [], []
        config, assets = workload(work)
        base = [sys.executable, "-m", "bproc_factory", "render", str(config), "-n", str(args.n), "--seed", "7",
                "--set", f"camera.resolution=[{width},{height}]",
                "--set", f"camera.K={{fx: {f}, fy: {f}, cx: {(width - 1) / 2}, cy: {(height - 1) / 2}}}"]
        for r in range(args.repeats):
            factory_s.append(_timed([*base, "-o", str(work / f"factory{r}")]))
            render = json.loads((work / "factory0" / "run.json").read_text())["config"]["render"]  # resolved
            modal_s.append(_timed([*base, "-o", str(work / f"modal{r}"), "--set", "labels.amodal=false"]))
            plain_s.append(_timed([
                sys.executable, str(REPO / "benchmarks" / "plain_blenderproc.py"), str(work / "factory0"),
                str(REPO / "scenes" / "tabletop.blend"), str(assets), str(work / f"plain{r}"),
                "--samples", str(render["samples"]), "--noise-threshold", str(render["noise_threshold"]),
                "--max-bounces", str(render["max_bounces"]), "--denoise-guides", render["denoise_guides"],
                "--denoise-prefilter", render["denoise_prefilter"],
                *(["--light-tree"] if render["light_tree"] else [])]))
        iou, count = _mean_instance_iou(work / "factory0", work / "plain0")
        meta = json.loads(next((work / "factory0" / "meta").glob("*.json")).read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    fac, mod, pla = statistics.median(factory_s), statistics.median(modal_s), statistics.median(plain_s)
    print(f"demo scene @ {width}x{height}, {args.n} images per run, {args.repeats} runs each, "
          f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
          f"Blender {meta['provenance']['blender']}, samples {render['samples']}, "
          f"noise threshold {render['noise_threshold']}, bounces {render['max_bounces']}, OIDN "
          f"({render['denoise_guides']}, {render['denoise_prefilter']}), light tree {render['light_tree']}")
    print(f"{'':<26}{'wall s':>9}{'s/image':>9}")
    rows = [("factory, modal labels", mod, modal_s), ("factory, + amodal", fac, factory_s),
            ("plain BlenderProc", pla, plain_s)]
    for name, median, runs in rows:
        print(f"{name:<26}{median:>9.1f}{median / args.n:>9.2f}   runs: " + ", ".join(f"{t:.1f}" for t in runs))
    print(f"factory overhead, same outputs (labels.amodal=false): {mod / pla:.3f}x (target <= 1.05)")
    print(f"factory overhead, default config (adds the amodal pass): {fac / pla:.3f}x")
    print(f"same scenes: mean mask IoU {iou:.3f} over {count} factory instances")


if __name__ == "__main__":
    main()
