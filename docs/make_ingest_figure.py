"""Make ``docs/ingest.jpg``: a marker-less turntable capture beside the textured mesh ingest made
of it, in views the texture bake did not use: the source frames, the mesh under the light fitted to
the capture, and the bare albedo texture the factory lights itself.

Usage: ``python docs/make_ingest_figure.py [WORK_DIR]`` (renders a 60-frame 480x360 capture and
ingests it: a few minutes on 2 cores).
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import trimesh
import yaml

from bproc_factory.ingest import hull, texture
from bproc_factory.ingest.frames import read_frames
from bproc_factory.ingest.pipeline import Y_UP
from bproc_factory.sensor import srgb_decode

DOCS = Path(__file__).resolve().parent
VIEWS = 4


def main(work: Path) -> None:
    capture, assets = work / "capture", work / "assets"
    if not (capture / "truth.json").is_file():
        subprocess.run([sys.executable, str(DOCS.parent / "examples" / "turntable" / "make_capture.py"),
                        str(capture), "--no-markers", "--texture", "speckled"], check=True)
    truth = json.loads((capture / "truth.json").read_text())
    subprocess.run([sys.executable, "-m", "bproc_factory", "ingest", str(capture / "capture.mp4"), "--name", "house",
                    "--category", "toy", "-o", str(assets), "--height-m", f"{truth['object_height_m']:.4f}", "-q",
                    "--force"], check=True)
    asset = assets / "house"
    spec = yaml.safe_load((asset / "asset.yaml").read_text())["capture"]
    quality = json.loads((asset / "quality.json").read_text())["texture"]
    mesh = trimesh.load(asset / "mesh.glb", force="mesh")
    mesh.apply_transform(np.linalg.inv(Y_UP))
    atlas = np.asarray(mesh.visual.material.baseColorTexture.convert("RGB"))
    baked = texture.BakedTexture(mesh, srgb_decode(atlas / 255.0).astype(np.float32), atlas,
                                 np.array(quality["capture_light"]), quality["coverage"])
    frames = {f.index: f.image for f in read_frames(capture / "capture.mp4").frames}
    K = np.array(spec["cameras"]["K"])
    held = quality["held_out_views"]
    rows: list[list[np.ndarray]] = [[], [], []]
    for k in held[:: max(1, len(held) // VIEWS)][:VIEWS]:
        view = spec["views"][k]
        cam = hull.Camera(K, np.array(view["sheet_to_camera"]), cv2.imread(str(asset / view["mask"]), 0) > 127,
                          frames[view["frame"]])
        lit, covered = texture.render(baked, cam)
        bare, _ = texture.render(baked, cam, lit=False)
        ys, xs = np.nonzero(cam.mask | covered)
        pad = 12
        box = (slice(max(ys.min() - pad, 0), ys.max() + pad), slice(max(xs.min() - pad, 0), xs.max() + pad))
        white = np.full_like(cam.image, 255)
        for row, image in zip(rows, (cam.image, np.where(covered[..., None], lit[..., ::-1], white),
                                     np.where(covered[..., None], bare[..., ::-1], white))):
            row.append(cv2.resize(image[box], None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC))
    height = max(t.shape[0] for row in rows for t in row)
    width = max(t.shape[1] for row in rows for t in row)
    grid = np.full((3 * height, VIEWS * width, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            grid[r * height:r * height + tile.shape[0], c * width:c * width + tile.shape[1]] = tile
    cv2.imwrite(str(DOCS / "ingest.jpg"), grid, [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {DOCS / 'ingest.jpg'}: held-out PSNR {quality['psnr_db']['mean']} dB")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="bpf_ingest_figure_")))
