"""Render the demo from Python, small and fast, and read it back: python examples/hello_render.py [OUT]"""
import sys
from pathlib import Path

from bproc_factory import load_scenario, render

demo = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"
small = ("camera.resolution=[160, 120]", "camera.K={fx: 155, fy: 155, cx: 79.5, cy: 59.5}", "render.samples=8")
scenario = load_scenario(demo, overrides=small)
dataset = render(scenario, sys.argv[1] if len(sys.argv) > 1 else "out/hello", count=2, seed=7)
for i in dataset.indices():
    objects = dataset.meta(i)["objects"]
    labelled = sorted(o["category"] for o in objects if o["label"] == "annotated")
    print(f"image {i}: {dataset.image(i).shape}, mask ids {sorted(map(int, set(dataset.mask(i).flat)))}, labels {labelled}")
