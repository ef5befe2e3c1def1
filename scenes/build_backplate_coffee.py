"""Build the example photo backplate ``scenes/backplates/coffee_table.{png,yaml}``.

The photo is scikit-image's ``coffee`` sample (an espresso on a wooden table; photograph by Rachel
Michetti, courtesy of Pikolo Espresso Bar, CC0), copied from the installed scikit-image package.
The annotation marks the free table on the right of the saucer as the placement area and gives
an approximate camera: 60 degree horizontal field of view, 15 cm above the table, tilted 55
degrees down, so the saucer comes out about 14 cm wide; a sun from the upper left matches the
photo's light. Run: ``python scenes/build_backplate_coffee.py``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import yaml
from skimage import data

ANNOTATION = {
    "photo": "coffee_table.png",
    "source": "scikit-image sample data 'coffee': photograph by Rachel Michetti, courtesy of Pikolo Espresso Bar",
    "license": "CC0-1.0",
    "placement_polygon": [[492, 30], [598, 18], [598, 396], [482, 396]],
    "camera": {"hfov_deg": 60.0, "height_m": 0.15, "tilt_deg": 55.0},
    "light": {"strength_scale": 1.0, "sun": {"elevation_deg": 45.0, "azimuth_deg": 135.0, "strength": 2.5}},
}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out / "coffee_table.png"), data.coffee()[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])
    (out / "coffee_table.yaml").write_text(
        "# A photo backplate: see scenes/README.md, \"Photo backplates\".\n"
        + yaml.safe_dump(ANNOTATION, sort_keys=False), encoding="utf-8")
    print(f"wrote {out / 'coffee_table.yaml'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "backplates")
