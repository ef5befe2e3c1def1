"""Bad input, one row each: the command exits 2 with one clear line naming the file and the key at
fault, prints no traceback, finishes in bounded time and memory, and writes nothing. In process
(``CliRunner``) on the backplate config, which needs no Blender."""
from __future__ import annotations

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

CASES = [
    Case("billion laughs", ("aliases", "expand"), text="a: &a [x, x, x, x, x, x, x, x, x]\n" + LAUGHS + "scene: *i\n"),
    Case("not UTF-8", ("not UTF-8",), text="scene: \udcff\n"),
    Case("NaN in a distribution", ("world.strength", "finite"), ("world.strength={uniform: [.nan, 0.4]}",)),
    Case("NaN in a normal's mean", ("lights[0].temperature_k", "finite"),
         ("lights=[{type: sun, temperature_k: {normal: {mean: .nan, std: 300}, min: 2200, max: 4000}}]",)),
    Case("infinite focal length", ("camera.K", "finite"), ("camera.K={fx: .inf, fy: 600, cx: 320, cy: 240}",)),
    Case("absurd focal length", ("camera.K", "fx", "range"), ("camera.K={fx: 1e30, fy: 600, cx: 320, cy: 240}",)),
    Case("absurd distance", ("camera.distance_m", "range"), ("camera.distance_m=9223372036854775808",)),
    Case("a huge value in an error preview", ("render.samples",), ("render.samples=[" + ", ".join(["1"] * 5000) + "]",)),
    Case("a single-triangle mesh", ("objects[0].assets[0]", "spans no volume"), files=TRIANGLE,
         replace=(ASSETS, "[tri]"), blames="mesh.obj"),
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


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_bad_config_exits_2_naming_file_and_key_and_writes_nothing(case, tmp_path):
    config = _write(tmp_path, case)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    args = ["check", str(config)] + [a for item in case.sets for a in ("--set", item)]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200", "NO_COLOR": "1"})
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2, (result.exit_code, message, result.exception)
    assert "Traceback" not in result.stderr and message.startswith("error:") and len(message) < 600, message
    assert case.blames in message and all(s in message for s in case.says), message
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


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
