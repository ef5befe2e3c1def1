"""The shipped demo assets, scenes and HDRIs, and the ingest tests' captures, are what their committed build scripts make."""
import importlib.util
import json
import math
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import DEMO_ASSETS, REPO, cli, tiny_config, write_config


def test_committed_demo_assets_are_byte_identical_to_a_rebuild(tmp_path):
    subprocess.run([sys.executable, str(REPO / "assets" / "build_demo_assets.py"), str(tmp_path)],
                   check=True, capture_output=True)
    committed = sorted(p.relative_to(DEMO_ASSETS) for p in DEMO_ASSETS.rglob("*") if p.is_file())
    rebuilt = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert committed == rebuilt
    for rel in committed:
        assert (DEMO_ASSETS / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel


def test_committed_distractor_shapes_are_byte_identical_to_a_rebuild(tmp_path):
    shipped = REPO / "assets" / "distractors"
    subprocess.run([sys.executable, str(REPO / "assets" / "build_distractor_shapes.py"), str(tmp_path)],
                   check=True, capture_output=True)
    committed = sorted(p.relative_to(shipped) for p in shipped.rglob("*") if p.is_file())
    assert committed == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    for rel in committed:
        assert (shipped / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel


def test_each_shipped_hdri_shows_its_modelled_lights_where_the_environment_texture_puts_them():
    """The committed HDRIs are the rooms their build script models: every emitter is bright in the
    image in its direction from the panorama's eye, by Cycles' equirectangular mapping."""
    sys.path.insert(0, str(REPO / "assets" / "hdri"))
    try:
        from build_hdris import EYE, HEIGHT, ROOMS, WIDTH
    finally:
        sys.path.pop(0)
    for name, (_, _, emitters) in ROOMS.items():
        image = cv2.imread(str(REPO / "assets" / "hdri" / f"{name}.hdr"), cv2.IMREAD_UNCHANGED)[..., ::-1]
        assert image.shape == (HEIGHT, WIDTH, 3), name
        for centre, _, _, colour, strength in emitters:
            d = np.subtract(centre, EYE)
            u = -math.atan2(d[1], d[0]) / (2 * math.pi) + 0.5
            v = math.atan2(d[2], math.hypot(d[0], d[1])) / math.pi + 0.5
            pixel = image[min(int((1 - v) * HEIGHT), HEIGHT - 1), int(u * WIDTH) % WIDTH]
            assert pixel.max() > 0.5 * strength * max(colour), (name, centre, pixel)
        assert image.mean() < 0.1 * max(e[4] for e in emitters), f"{name}: the lights, not the walls, are bright"


@pytest.mark.render
def test_tabletop_build_script_makes_a_scene_with_the_same_marks(tmp_path):
    blend = tmp_path / "tabletop.blend"
    subprocess.run([sys.executable, str(REPO / "scenes" / "build_tabletop.py"), str(blend)],
                   check=True, capture_output=True)
    rebuilt = cli("check", write_config(tmp_path, tiny_config(scene=str(blend))), check=True)
    shipped = cli("check", write_config(tmp_path, tiny_config(), "shipped.yaml"), check=True)
    marks = [line for line in rebuilt.stdout.splitlines() if "placement areas" in line]
    assert marks == [line for line in shipped.stdout.splitlines() if "placement areas" in line]
    assert marks == ["  placement areas: table_top (1.20 x 0.80 m)"]


def test_the_committed_ingest_captures_were_made_by_todays_capture_script_and_recipes():
    spec = importlib.util.spec_from_file_location("make_captures", REPO / "tests" / "data" / "make_captures.py")
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    manifest = json.loads((maker.OUT / "manifest.json").read_text())
    stale = "the ingest test captures are stale: run `python tests/data/make_captures.py` and commit them"
    assert manifest["sources"] == maker.source_hashes(), stale
    assert manifest["recipes"] == maker.RECIPES, stale
    for name in maker.RECIPES:
        assert (maker.OUT / name / "truth.json").is_file() and (maker.OUT / name / "masks").is_dir(), name
