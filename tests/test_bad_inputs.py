"""Bad input, one row each: the command exits 2 with one clear line naming the file and the key at
fault, prints no traceback, finishes in bounded time and memory, and writes nothing. In process
(``CliRunner``) on the backplate config, which needs no Blender."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO
from typer.testing import CliRunner

from bproc_factory.cli import app
from bproc_factory.config import read_yaml

BACKPLATE_CONFIG = REPO / "configs" / "backplate-coffee.yaml"

LAUGHS = "".join(f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi"))


def _base() -> str:
    """The backplate config with its paths made absolute, to be written anywhere."""
    return BACKPLATE_CONFIG.read_text().replace("../", f"{REPO}/")


@dataclass(frozen=True)
class Case:
    """A scenario (the backplate config with ``replace`` made, or ``text`` instead), the other files
    written beside it, ``--set`` items, and what the error must say besides the file's name
    (``scenario.yaml`` unless ``blames`` names another)."""

    name: str
    says: tuple[str, ...]
    sets: tuple[str, ...] = ()
    text: str | None = None
    replace: tuple[str, str] | None = None
    files: tuple[tuple[str, str], ...] = ()
    blames: str = "scenario.yaml"


ASSETS = "[../assets/demo/soda_can, ../assets/demo/bottle]".replace("../", f"{REPO}/")
TRIANGLE = (("tri/mesh.obj", "v 0 0 0\nv 100 0 0\nv 0 0 100\nf 1 2 3\n"),
            ("tri/asset.yaml", "name: tri\ncategory: can\nmesh: mesh.obj\nscale: 0.001\n"))
TETRAHEDRON = "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n"
BACKPLATE = (REPO / "scenes" / "backplates" / "coffee_table.yaml").read_text().replace(
    "photo: coffee_table.png", f"photo: {REPO}/scenes/backplates/coffee_table.png")


def asset(yaml_text: str, mesh: str | None = TETRAHEDRON) -> dict:
    """Case fields for an asset folder ``a/`` (its asset.yaml and mesh) used as objects[0]'s only asset."""
    files = (("a/asset.yaml", yaml_text),) + ((("a/mesh.obj", mesh),) if mesh is not None else ())
    return {"files": files, "replace": (ASSETS, "[a]")}


def backplate(old: str, new: str, extra: tuple[tuple[str, str], ...] = ()) -> dict:
    """Case fields for a copy of the coffee-table backplate (``bp.yaml``) with ``old`` replaced."""
    assert old in BACKPLATE
    return {"sets": ("scene=bp.yaml",), "files": (("bp.yaml", BACKPLATE.replace(old, new)),) + extra, "blames": "bp.yaml"}


CASES = [
    # YAML itself
    Case("billion laughs", ("aliases", "expand"), text="a: &a [x, x, x, x, x, x, x, x, x]\n" + LAUGHS + "scene: *i\n"),
    Case("not UTF-8", ("not UTF-8",), text="scene: \udcff\n"),
    Case("empty file", ("top level must be a mapping",), text=""),
    Case("a list at the top", ("top level must be a mapping", "list"), text="- a\n- b\n"),
    Case("YAML syntax error", ("line 2", "invalid YAML"), text="scene: [unclosed\nobjects: 1\n"),
    Case("a tab for indent", ("line 2", "\\t"), text="scene: x\n\tobjects: []\n"),
    Case("a key given twice", ("line 15", "'placement' is given twice", "line 12"),
         text=_base() + "\nplacement: {min_gap_m: 0.01}\n"),
    Case("nested 20000 deep", ("nested too deeply",), text="scene: " + "[" * 20000 + "]" * 20000 + "\n"),
    # numbers and distributions
    Case("NaN in a distribution", ("world.strength", "finite"), ("world.strength={uniform: [.nan, 0.4]}",)),
    Case("NaN in a normal's mean", ("lights[0].temperature_k", "finite"),
         ("lights=[{type: sun, temperature_k: {normal: {mean: .nan, std: 300}, min: 2200, max: 4000}}]",)),
    Case("NaN exposure", ("render.exposure_ev", "finite"), ("render.exposure_ev=.nan",)),
    Case("infinite focal length", ("camera.K", "finite"), ("camera.K={fx: .inf, fy: 600, cx: 320, cy: 240}",)),
    Case("absurd focal length", ("camera.K", "fx", "range"), ("camera.K={fx: 1e30, fy: 600, cx: 320, cy: 240}",)),
    Case("absurd distance", ("camera.distance_m", "range"), ("camera.distance_m=9223372036854775808",)),
    Case("a huge value in an error preview", ("render.samples",), ("render.samples=[" + ", ".join(["1"] * 5000) + "]",)),
    Case("a word for a number", ("render.samples", "valid integer", "'lots'"), ("render.samples=lots",)),
    Case("a negative count", ("objects[0].count", ">= 0"), ("objects[0].count=-1",)),
    Case("a count past the cap", ("objects[0].count", "<= 9999"), ("objects[0].count=100000",)),
    Case("a zero scale", ("objects[0].scale", "> 0"), ("objects[0].scale=0",)),
    Case("uniform low above high", ("objects[0].scale", "low 0.5 is greater than high 0.1"),
         ("objects[0].scale={uniform: [0.5, 0.1]}",)),
    Case("a negative standard deviation", ("objects[0].scale.normal.std", ">= 0"),
         ("objects[0].scale={normal: {mean: 0.3, std: -1}}",)),
    Case("an unknown distribution", ("objects[0].scale", "uniform|normal|choice"), ("objects[0].scale={gauss: [1, 2]}",)),
    Case("an empty choice", ("objects[0].scale", "at least 1 item"), ("objects[0].scale={choice: []}",)),
    Case("words in a numeric choice", ("objects[0].count.choice[0]", "valid number"),
         ("objects[0].count={choice: [a, b]}",)),
    # keys and values
    Case("a misspelt key", ("render.samplez", "did you mean 'samples'"), ("render.samplez=4",)),
    Case("an unknown top-level key", ("nope", "unknown key", "allowed:"), ("nope.key=1",)),
    Case("an unknown light type", ("lights[0].type", "'laser'"), ("lights=[{type: laser}]",)),
    Case("an unknown denoiser", ("render.denoiser", "'magic'"), ("render.denoiser=magic",)),
    Case("JPEG quality 150", ("render.jpeg_quality", "<= 100"), ("render.jpeg_quality=150",)),
    Case("zero views per scene", ("views_per_scene", "> 0"), ("views_per_scene=0",)),
    Case("a zero-wide image", ("camera.resolution[0]", "> 0"), ("camera.resolution=[0, 480]",)),
    Case("a camera above the zenith", ("camera.elevation_deg", "<= 90"), ("camera.elevation_deg=120",)),
    Case("two distortion coefficients", ("camera.distortion", "5 coefficients"),
         ("camera.distortion={model: brown_conrady, coeffs: [0.1, 0.2]}",)),
    Case("a visible fraction range upside down", ("occlusion.target.visib_fract", "[0.8, 0.2]"),
         ("occlusion={target: {visib_fract: [0.8, 0.2]}}",)),
    Case("a negative pixel threshold", ("labels.min_visible_px", ">= 1"), ("labels.min_visible_px=-3",)),
    Case("a lens dust probability of 2", ("lens.dust.probability", "<= 1"), ("lens={dust: {probability: 2}}",)),
    Case("a negative full well", ("sensor.noise.full_well_e", "> 0"), ("sensor={noise: {full_well_e: -5}}",)),
    Case("category id 0", ("categories.can", "> 0"), ("categories={can: 0}",)),
    Case("a future config version", ("version", "99"), ("version=99",)),
    Case("a look of another view transform", ("render: look: 'punchy'", "filmic"),
         ("render.view_transform=filmic", "render.look=punchy")),
    Case("two kinds of world light", ("world", "one of color, sky or hdri", "color and sky"),
         ("world={color: [1, 1, 1], sky: {}}",)),
    Case("a world strength beside a sky", ("world", "set sky.strength instead"), ("world={strength: 1, sky: {}}",)),
    Case("a sun below the horizon", ("world.sky.sun_elevation_deg", ">= 0"), ("world={sky: {sun_elevation_deg: -5}}",)),
    Case("a missing HDRI", ("world.hdri.file", "'nope.hdr' not found"), ("world={hdri: {file: nope.hdr}}",)),
    Case("an HDRI that is a PNG", ("world.hdri.file", ".hdr or .exr", "'sky.png'"), ("world={hdri: {file: sky.png}}",),
         files=(("sky.png", "x"),)),
    Case("an HDRI that is text", ("world.hdri.file", "not a Radiance .hdr or OpenEXR"),
         ("world={hdri: {file: sky.hdr}}",), files=(("sky.hdr", "hello"),)),
    Case("AgX on a photo backplate", ("render.view_transform", "re-grade the photo"), ("render.view_transform=agx",)),
    Case("no objects", ("objects", "at least 1 item"), ("objects=[]",)),
    Case("an object group without assets", ("objects[0].assets", "at least 1 item"), ("objects[0].assets=[]",)),
    Case("an unknown placement area", ("objects[0].placement_area", "'moon'", "found: ground"),
         ("objects[0].placement_area=moon",)),
    # files the config names
    Case("a missing scene", ("scene", "'nope.blend' not found"), ("scene=nope.blend",)),
    Case("a scene that is neither .blend nor .yaml", ("scene", "'scene.txt'"), ("scene=scene.txt",),
         files=(("scene.txt", "x"),)),
    Case("a missing asset folder", ("objects[0].assets", "'nope' not found"), ("objects[0].assets=[nope]",)),
    Case("a missing lighting preset", ("lighting", "'nope.yaml' not found"), ("lighting=nope.yaml",)),
    Case("a missing camera profile", ("camera.profile", "'nope.yaml' not found"), ("camera.profile=nope.yaml",)),
    Case("a missing sensor profile", ("sensor.profile", "'nope.yaml' not found"), ("sensor.profile=nope.yaml",)),
    Case("an unknown surface material", ("surfaces.materials[0]", "'unobtainium' not found", "library:"),
         ("surfaces={materials: [unobtainium]}",)),
    Case("an unknown object material", ("objects[0].materials[0]", "'unobtainium' not found"),
         ("objects[0].materials=[unobtainium]",)),
    Case("a material file with an unknown pattern", ("pattern", "'swirl'"), ("surfaces={materials: [m.yaml]}",),
         files=(("m.yaml", "name: m\npattern: swirl\n"),), blames="m.yaml"),
    Case("a lighting preset with negative energy", ("lights[0].energy_w", ">= 0"), ("lighting=l.yaml",),
         files=(("l.yaml", "lights: [{type: area, energy_w: -5}]\n"),), blames="l.yaml"),
    Case("a camera profile without a lens", ("'K'", "'focal_length_mm'"), ("camera.profile=c.yaml",),
         files=(("c.yaml", "name: c\nresolution: [640, 480]\n"),), blames="c.yaml"),
    Case("a sensor profile with a misspelt key", ("noize", "did you mean 'noise'"), ("sensor.profile=s.yaml",),
         files=(("s.yaml", "name: s\nnoize: 3\n"),), blames="s.yaml"),
    # assets
    Case("a single-triangle mesh", ("objects[0].assets[0]", "spans no volume"), files=TRIANGLE,
         replace=(ASSETS, "[tri]"), blames="mesh.obj"),
    Case("an asset.yaml with a misspelt key", ("objects[0].assets[0]", "hieght_m", "did you mean 'height_m'"),
         **asset("name: a\ncategory: can\nmesh: mesh.obj\nhieght_m: 0.1\n"), blames="asset.yaml"),
    Case("an asset whose mesh is missing", ("objects[0].assets[0]", "mesh: file 'mesh.obj' not found"),
         **asset("name: a\ncategory: can\nmesh: mesh.obj\nheight_m: 0.1\n", mesh=None), blames="asset.yaml"),
    Case("an asset of negative height", ("height_m", "> 0"),
         **asset("name: a\ncategory: can\nmesh: mesh.obj\nheight_m: -0.1\n"), blames="asset.yaml"),
    Case("an asset with an unknown library material", ("material", "'unobtainium' not found"),
         **asset("name: a\ncategory: can\nmesh: mesh.obj\nheight_m: 0.1\nmaterial: unobtainium\n"),
         blames="asset.yaml"),
    Case("an asset finish with a metallic of 2", ("finish.metallic", "<= 1"),
         **asset("name: a\ncategory: can\nmesh: mesh.obj\nheight_m: 0.1\nfinish: {metallic: 2}\n"),
         blames="asset.yaml"),
    Case("a mesh file that is text", ("the mesh has no triangles",),
         **asset("name: a\ncategory: can\nmesh: mesh.obj\nheight_m: 0.1\n", mesh="not a mesh\n"), blames="mesh.obj"),
    # photo backplates
    Case("a backplate photo that is missing", ("photo", "'nope.png' not found"),
         **backplate(f"photo: {REPO}/scenes/backplates/coffee_table.png", "photo: nope.png")),
    Case("a backplate photo that is text", ("photo", "'fake.png' is not a readable image"),
         **backplate(f"photo: {REPO}/scenes/backplates/coffee_table.png", "photo: fake.png", (("fake.png", "hi"),))),
    Case("a placement polygon of two points", ("placement_polygon", "at least 3 items"),
         **backplate("- - 598\n  - 396\n- - 482\n  - 396\n", "")),
    Case("a placement point outside the photo", ("placement_polygon[3]", "outside the 600x400 photo"),
         **backplate("- - 482\n  - 396\n", "- - 4820\n  - 396\n")),
    Case("a backplate camera tilted past 90 degrees", ("camera.tilt_deg", "<= 90"),
         **backplate("tilt_deg: 55.0", "tilt_deg: 120.0")),
    # the command line
    Case("--set without '='", ("render.samples", "expected key.path=value"), ("render.samples",), blames="--set"),
    Case("--set past the end of a list", ("objects[9]", "out of range"), ("objects[9].count=1",), blames="--set"),
    Case("--set with broken YAML", ("render.samples", "invalid YAML"), ("render.samples={[",), blames="--set"),
]


def _write(tmp_path: Path, case: Case) -> Path:
    for name, content in case.files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    text = case.text if case.text is not None else _base()
    if case.replace:
        assert case.replace[0] in text
        text = text.replace(*case.replace)
    path = tmp_path / "scenario.yaml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return path


def _snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a folder): what "nothing written" compares."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def _invoke(args: list[str]) -> tuple[int, str, object]:
    """Run the command line in process with bpy unimportable; (exit code, stderr on one line, exception)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "bpy", None)  # a refusal must come before Blender is loaded
        result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200", "NO_COLOR": "1"})
    return result.exit_code, " ".join(result.stderr.split()), result.exception


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", ["check", "render"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_bad_config_exits_2_naming_file_and_key_and_writes_nothing(case, command, tmp_path):
    config = _write(tmp_path, case)
    before = _snapshot(tmp_path)
    out = ["-o", tmp_path / "out", "-n", "1"] if command == "render" else []
    code, message, exception = _invoke([command, config, *out] + [a for item in case.sets for a in ("--set", item)])
    assert code == 2, (code, message, exception)
    assert "Traceback" not in message and message.startswith("error:") and len(message) < 600, message
    assert case.blames in message and all(s in message for s in case.says), message
    assert _snapshot(tmp_path) == before


@dataclass(frozen=True)
class CommandCase:
    """A command line (``{t}`` in an argument is the test's folder) and what its error must say,
    ``names`` (the path at fault, under ``{t}``) among it."""

    name: str
    args: tuple[str, ...]
    names: str
    says: tuple[str, ...]


SENSOR_FIT = REPO / "examples" / "sensor_fit"
COMMAND_CASES = [
    CommandCase("validate a folder that is not a dataset", ("validate", "{t}/notes"), "{t}/notes", ("no run.json",)),
    CommandCase("validate a missing folder", ("validate", "{t}/nope"), "{t}/nope", ("no such folder",)),
    CommandCase("validate a dataset whose run.json is broken", ("validate", "{t}/broken"), "{t}/broken",
                ("not valid JSON",)),
    CommandCase("report on a folder that is not a dataset", ("report", "{t}/notes", "-o", "{t}/report"), "{t}/notes",
                ("no run.json",)),
    CommandCase("table of a folder that is not a dataset", ("table", "{t}/notes", "-o", "{t}/tables"), "{t}/notes",
                ("no run.json",)),
    CommandCase("YOLO export of a folder that is not a dataset", ("export", "yolo", "{t}/notes", "-o", "{t}/yolo"),
                "{t}/notes", ("no run.json",)),
    CommandCase("merge a folder that is not a dataset", ("merge", "{t}/notes", "{t}/broken", "-o", "{t}/merged"),
                "{t}/notes", ("no run.json",)),
    CommandCase("sensor compare against a folder that is not a dataset",
                ("sensor", "compare", "{t}/notes", "{t}/notes", "-o", "{t}/gap"), "{t}/notes", ("no run.json",)),
    CommandCase("evaluate a folder that is not a dataset", ("evaluate", "{t}/notes", "{t}/preds.json", "-o",
                                                            "{t}/eval"), "{t}/notes", ("no coco.json",)),
    CommandCase("evaluate missing predictions", ("evaluate", "{t}/labels.json", "{t}/nope.json", "-o", "{t}/eval"),
                "{t}/nope.json", ("no such predictions file",)),
    CommandCase("evaluate into a file", ("evaluate", "{t}/labels.json", "{t}/preds.json", "-o", "{t}/notes/x.txt"),
                "{t}/notes/x.txt", ("cannot write",)),
    CommandCase("develop a folder that is not a dataset", ("develop", "{t}/notes", "-o", "{t}/dev"), "{t}/notes",
                ("no run.json",)),
    CommandCase("develop a dataset whose run.json is broken", ("develop", "{t}/broken", "-o", "{t}/dev"),
                "{t}/broken", ("not valid JSON",)),
    CommandCase("camera import without a camera matrix", ("camera", "import", "{t}/calib.yaml", "-o", "{t}/cam.yaml"),
                "{t}/calib.yaml", ("no camera matrix",)),
    CommandCase("camera import of a 2x2 matrix", ("camera", "import", "{t}/calib.json", "-o", "{t}/cam.yaml"),
                "{t}/calib.json", ("3x3",)),
    CommandCase("camera import of a missing file", ("camera", "import", "{t}/nope.yaml", "-o", "{t}/cam.yaml"),
                "{t}/nope.yaml", ("file not found",)),
    CommandCase("sensor fit with a missing corners file",
                ("sensor", "fit", "--chart", f"{SENSOR_FIT}/chart.png", "--corners", "{t}/nope.yaml", "-o", "{t}/s.yaml"),
                "{t}/nope.yaml", ("file not found",)),
    CommandCase("sensor fit on pairs with no common names",
                ("sensor", "fit", "--pairs", "{t}/notes", "{t}/photos", "-o", "{t}/s.yaml"), "{t}/notes",
                ("no image names common",)),
    CommandCase("sensor fit writing its comparison to a .txt",
                ("sensor", "fit", "--chart", f"{SENSOR_FIT}/chart.png", "--corners", f"{SENSOR_FIT}/chart.yaml",
                 "-o", "{t}/s.yaml", "--comparison", "{t}/cmp.txt"), "{t}/cmp.txt", ("--comparison", ".png or .jpg")),
    CommandCase("scene check of a text file", ("scene", "check", "{t}/notes/x.txt"), "{t}/notes/x.txt",
                (".blend file or a backplate",)),
    CommandCase("scene check of a .blend that is text", ("scene", "check", "{t}/fake.blend"), "{t}/fake.blend",
                ("not a .blend file",)),
    CommandCase("init into a file", ("init", "{t}/notes/x.txt"), "{t}/notes/x.txt", ("not an empty folder",)),
    CommandCase("ingest a missing video", ("ingest", "{t}/nope.mp4", "--name", "x", "--category", "c", "-o",
                                           "{t}/assets", "--height-m", "0.1"), "{t}/nope.mp4", ("no such video",)),
    CommandCase("ingest a folder without photos", ("ingest", "{t}/notes", "--name", "x", "--category", "c", "-o",
                                                   "{t}/assets", "--height-m", "0.1"), "{t}/notes", ("no photos",)),
    CommandCase("turntable sheet under a file", ("turntable-sheet", "{t}/notes/x.txt/sheet.png"),
                "{t}/notes/x.txt/sheet.png", ("cannot write",)),
    CommandCase("preview to a folder", ("preview", str(BACKPLATE_CONFIG), "-o", "{t}/notes"), "{t}/notes",
                (".png or .jpg",)),
    CommandCase("preview in a missing scene", ("preview", "--scene", "{t}/nope.blend", "-o", "{t}/p.png"),
                "{t}/nope.blend", ("not found",)),
    CommandCase("addon zip to a folder", ("addon", "-o", "{t}/notes"), "{t}/notes", (".zip",)),
    CommandCase("render into a file", ("render", str(BACKPLATE_CONFIG), "-o", "{t}/notes/x.txt", "-n", "1"),
                "{t}/notes/x.txt", ("cannot write to output folder",)),
    CommandCase("render a shard past the count", ("render", str(BACKPLATE_CONFIG), "-o", "{t}/out", "-n", "1",
                                                  "--shard", "5/3"), "--shard", ("index 5 is not in 0..2",)),
    CommandCase("render a sweep without values", ("render", str(BACKPLATE_CONFIG), "-o", "{t}/out", "-n", "1",
                                                  "--sweep", "render.samples"), "--sweep", ("key.path=v1,v2",)),
    CommandCase("render a sweep of a misspelt key", ("render", str(BACKPLATE_CONFIG), "-o", "{t}/out", "-n", "1",
                                                     "--sweep", "render.samplez=1,2"), str(BACKPLATE_CONFIG),
                ("render.samplez", "did you mean 'samples'")),
]


@pytest.fixture
def command_inputs(tmp_path) -> Path:
    """The files the command rows point at."""
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "x.txt").write_text("not a dataset")
    (tmp_path / "photos").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{not json")
    (tmp_path / "calib.yaml").write_text("%YAML:1.0\n---\nimage_width: 640\n")
    (tmp_path / "calib.json").write_text('{"camera_matrix": [[1, 0], [0, 1]], "dist_coeffs": [0]}')
    (tmp_path / "fake.blend").write_text("hello")
    (tmp_path / "labels.json").write_text('{"images": [{"id": 1, "file_name": "a.jpg", "width": 8, "height": 8}], '
                                          '"annotations": [], "categories": [{"id": 1, "name": "can"}]}')
    (tmp_path / "preds.json").write_text("[]")
    return tmp_path


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", COMMAND_CASES, ids=[c.name for c in COMMAND_CASES])
def test_a_bad_command_line_exits_2_naming_the_path_and_writes_nothing(case, command_inputs):
    before = _snapshot(command_inputs)
    code, message, exception = _invoke([a.replace("{t}", str(command_inputs)) for a in case.args])
    assert code == 2, (code, message, exception)
    assert "Traceback" not in message and message.startswith("error:") and len(message) < 600, message
    assert case.names.replace("{t}", str(command_inputs)) in message and all(s in message for s in case.says), message
    assert _snapshot(command_inputs) == before


def test_the_tables_base_config_passes_check(tmp_path):
    """The table's base config is good: each row fails for its own reason."""
    result = CliRunner().invoke(app, ["check", str(_write(tmp_path, Case("base", ())))],
                                env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.stderr


def test_aliases_that_expand_a_little_still_load(tmp_path):
    path = tmp_path / "aliased.yaml"
    path.write_text("base: &b {min_gap_m: 0.002, tries: [1, 2]}\nplacement: *b\n")
    assert read_yaml(path) == {"base": {"min_gap_m": 0.002, "tries": [1, 2]}, "placement": {"min_gap_m": 0.002,
                                                                                           "tries": [1, 2]}}


@pytest.mark.parametrize("content,says", [(b"hello\n", "it holds text: 'hello'"), (b"", "the file is empty"),
                                          (bytes(range(256)) * 4, "no video container's signature")],
                         ids=["text", "empty", "binary"])
def test_a_file_that_is_not_a_video_is_named_as_such_without_ffmpegs_lines(content, says, tmp_path, capfd):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(content)
    result = CliRunner().invoke(app, ["ingest", str(clip), "--name", "x", "--category", "y", "-o",
                                      str(tmp_path / "assets"), "--height-m", "0.1"], env={"COLUMNS": "200"})
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2 and f"{clip}: not a video ({says}" in message, message
    assert "moov" not in capfd.readouterr().err and not (tmp_path / "assets").exists()


def test_an_absurd_image_count_is_refused_before_anything_is_written(tmp_path):
    config = _write(tmp_path, Case("base", ()))
    result = CliRunner().invoke(app, ["render", str(config), "-o", str(tmp_path / "out"), "-n", "1000000000000"],
                                env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 2 and "--count" in result.output and "10000000" in result.output, result.output
    assert not (tmp_path / "out").exists()
