"""Photoreal demo: clipped highlights, and what each realism feature costs, side by side in one run.

1. Clipping: the demo (``configs/demo.yaml``, seed 7) at its own size; the share of pixels with any
   channel at 255, per image (target: under 0.1 %).
2. Cost: the same images of the demo at ``--resolution`` and the same sample count, starting from
   the demo as it was before the realism work (``benchmarks/demo_before.yaml``: a flat grey world,
   the sRGB curve with its hard clip, no sensor, no clutter, the demo assets without their
   ``material``/``finish``) and adding one feature per row until it is today's demo. Each row gives
   seconds per image after setup and the ratio to the first row (target for the full demo: 1.5x).

Usage: ``python benchmarks/photoreal_benchmark.py [-n 4] [--resolution 320x240] [--skip-clipping] [--ends-only]``
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import yaml

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "configs" / "demo.yaml"


def plain_assets(work: Path) -> Path:
    """Copies of the demo assets without ``material`` and ``finish``: the assets as they were."""
    out = work / "plain_assets"
    shutil.copytree(REPO / "assets" / "demo", out)
    for spec_path in out.glob("*/asset.yaml"):
        spec = yaml.safe_load(spec_path.read_text())
        spec.pop("material", None)
        spec.pop("finish", None)
        spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return out


def steps(work: Path) -> list[tuple[str, Path]]:
    """(row name, config) from the old demo to today's, one feature added per row."""
    today = yaml.safe_load(DEMO.read_text())
    before = yaml.safe_load((REPO / "benchmarks" / "demo_before.yaml").read_text())
    plain = plain_assets(work)
    before["objects"] = [{**g, "assets": [str(plain / Path(a).name) for a in g["assets"]]} for g in before["objects"]]
    rows = [("before: flat world, sRGB clip, plain assets", dict(before))]

    def add(name: str, **changes) -> None:
        rows.append((name, {**rows[-1][1], **changes}))

    add("+ AgX view transform (punchy)", render={**before["render"], "view_transform": "agx", "look": "punchy"})
    hdri = {**today["world"]["hdri"], "file": str((DEMO.parent / today["world"]["hdri"]["file"]).resolve())}
    add("+ office HDRI world", world={"hdri": hdri}, lights=today["lights"])
    add("+ real materials (glass, metal, coat, fruit)", objects=[
        {**g, "assets": [str((DEMO.parent / a).resolve()) for a in g["assets"]]} for g in today["objects"][:2]])
    add("+ 6 bounces", render={**rows[-1][1]["render"], "max_bounces": today["render"]["max_bounces"]})
    add("+ phone sensor profile", sensor={"profile": str((DEMO.parent / today["sensor"]["profile"]).resolve())})
    add("+ pile, clutter, surface swaps (today's demo)", objects=[
        {**g, "assets": [str((DEMO.parent / a).resolve()) for a in g["assets"]]} for g in today["objects"]],
        surfaces=today["surfaces"])
    out = []
    for k, (name, config) in enumerate(rows):
        config = {**config, "scene": str((DEMO.parent / today["scene"]).resolve())}
        path = work / f"step{k}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        out.append((name, path))
    return out


def render(config: Path, out: Path, n: int, sets: list[str]) -> float:
    """Render ``n`` images of seed 7; seconds per image after setup, from the summary line."""
    said = subprocess.run([sys.executable, "-m", "bproc_factory", "render", str(config), "-o", str(out), "-n", str(n),
                           "--seed", "7", "-q", *sets], check=True, capture_output=True, text=True).stdout
    return float(re.search(r"([\d.]+) s/image after setup", said).group(1))


def clipped_share(folder: Path) -> list[float]:
    """Per image, the share of pixels with any channel at 255."""
    return [float((cv2.imread(str(p)) == 255).any(axis=2).mean()) for p in sorted((folder / "images").glob("*"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=4)
    parser.add_argument("--resolution", default="320x240")
    parser.add_argument("--skip-clipping", action="store_true")
    parser.add_argument("--ends-only", action="store_true", help="render only the first and last rows (a smoke test)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.resolution.split("x"))
    f = 620 * width / 640
    sets = ["--set", f"camera.resolution=[{width},{height}]",
            "--set", f"camera.K={{fx: {f}, fy: {f}, cx: {(width - 1) / 2}, cy: {(height - 1) / 2}}}"]
    work = Path(tempfile.mkdtemp(prefix="bpf_photoreal_"))
    try:
        if not args.skip_clipping:
            render(DEMO, work / "demo", args.n, [])
            shares = clipped_share(work / "demo")
            print(f"clipping: demo.yaml seed 7, {args.n} images at its own size: pixels with a channel at 255: "
                  + ", ".join(f"{100 * s:.3f} %" for s in shares) + f" (max {100 * max(shares):.3f} %, target < 0.1 %)")
        print(f"cost: demo.yaml seed 7, {args.n} images at {width}x{height}, same samples, side by side")
        print(f"{'step':<50}{'s/image':>9}{'ratio':>7}{'clipped px':>12}")
        base = None
        rows = steps(work)
        for k, (name, config) in enumerate(rows):
            if args.ends_only and 0 < k < len(rows) - 1:
                continue
            seconds = render(config, work / f"out{k}", args.n, sets)
            base = base or seconds
            print(f"{name:<50}{seconds:>9.2f}{seconds / base:>6.2f}x{100 * max(clipped_share(work / f'out{k}')):>11.3f}%")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
