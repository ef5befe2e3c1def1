"""The Python API: load_scenario, render and Dataset, as examples/hello_render.py uses them."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_api_loads_no_stage_until_a_name_is_used():
    code = ("import sys, bproc_factory; assert not [m for m in sys.modules if m.startswith('bproc_factory.')"
            " and m != 'bproc_factory.facade'], sorted(sys.modules); bproc_factory.load_scenario;"
            " assert 'bproc_factory.config' in sys.modules and 'bproc_factory.run' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_unknown_api_name_is_an_attribute_error():
    import bproc_factory

    with pytest.raises(AttributeError, match="no attribute 'renderer'"):
        bproc_factory.renderer  # noqa: B018


@pytest.mark.render
def test_hello_render_renders_the_demo_from_python_and_reads_it_back(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "hello_render.py"), str(tmp_path / "hello")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("image ")]
    assert [line.split(":")[0] for line in lines] == ["image 0", "image 1"]
    assert all("(120, 160, 3)" in line and "labels ['" in line for line in lines)


@pytest.mark.render
def test_render_from_python_keeps_blender_out_of_the_callers_process(tmp_path):
    code = f"""
import sys
from bproc_factory import Dataset, FactoryError, load_scenario, render
scenario = load_scenario({str(ROOT / 'configs' / 'demo.yaml')!r},
                         overrides=("camera.resolution=[64, 48]", "camera.K={{fx: 62, fy: 62, cx: 31.5, cy: 23.5}}",
                                    "render.samples=2"))
dataset = render(scenario, {str(tmp_path / 'out')!r}, count=1, seed=3)
assert isinstance(dataset, Dataset) and dataset.indices() == [0]
in_mask = set(int(v) for v in set(dataset.mask(0).flat)) - {{0}}
assert {{a["instance_id"] for a in dataset.meta(0)["annotations"]}} <= in_mask
assert in_mask <= {{o["instance_id"] for o in dataset.meta(0)["objects"]}}
assert [im["id"] for im in dataset.coco()["images"]] == [0]
try:
    render(scenario, {str(tmp_path / 'bad')!r}, count=1, overrides=("render.samples=-1",))
except FactoryError as exc:
    assert exc.exit_code == 2 and "render.samples" in str(exc), exc
else:
    raise AssertionError("a bad override was accepted")
assert "bpy" not in sys.modules
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr  # a process that loaded bpy would crash on exit (139)
