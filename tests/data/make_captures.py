"""Builds the synthetic captures the ingest tests read (``tests/data/captures/<name>/``) with
``examples/turntable/make_capture.py``, and records in ``manifest.json`` each recipe and the
SHA-256 of the code that made them. Rendering them took about five minutes of every test run;
a fast test fails when that code or a recipe changes and they were not rebuilt.

    python tests/data/make_captures.py            # all of them (about five minutes on 2 cores)
    python tests/data/make_captures.py mug        # one
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OUT = HERE / "captures"
MAKER = REPO / "examples" / "turntable" / "make_capture.py"
SOURCES = (MAKER, REPO / "bproc_factory" / "ingest" / "markers.py")  # the script and the sheet it draws
RECIPES: dict[str, list[str]] = {
    "turntable": ["--frames", "24", "--size", "240x180", "--samples", "4"],
    "plain": ["--no-markers", "--texture", "speckled", "--frames", "60", "--size", "480x360", "--samples", "4"],
    "walk_around": ["--no-markers", "--texture", "speckled", "--orbit", "20,45", "--frames", "48",
                    "--size", "480x360", "--samples", "4"],
    "cork_plate": ["--no-markers", "--texture", "speckled", "--plate", "cork", "--photos", "--frames", "4",
                   "--size", "480x360", "--samples", "4"],
    "mug": ["--no-markers", "--object", "mug", "--texture", "speckled", "--photos", "--frames", "4",
            "--size", "320x240", "--samples", "4"],
}


def source_hashes() -> dict[str, str]:
    """SHA-256 of the code that makes the captures, by path relative to the repo."""
    return {str(p.relative_to(REPO)): hashlib.sha256(p.read_bytes()).hexdigest() for p in SOURCES}


def main(names: list[str]) -> None:
    manifest_path = OUT / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"recipes": {}}
    for name in names or list(RECIPES):
        target = OUT / name
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run([sys.executable, str(MAKER), str(target), *RECIPES[name]], check=True)
        manifest["recipes"][name] = RECIPES[name]
    manifest["sources"] = source_hashes()
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
