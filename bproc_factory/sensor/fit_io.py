"""Inputs and outputs of ``sensor fit``: reading the chart spec or image pairs, writing the
profile YAML and the before/after comparison image."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import yaml
from pydantic import Field

from bproc_factory.config import ConfigError, SensorProfile, StrictModel, read_yaml, validate
from bproc_factory.dataset import check_picture_path, folder_images, write_picture
from bproc_factory.sensor.chart import COLORCHECKER_CLASSIC_SRGB8, draw_chart, read_patches
from bproc_factory.sensor.fit import FitError, SensorFit, fit_chart, fit_pairs, predict
from bproc_factory.sensor.pipeline import srgb_decode

REFERENCES = {"colorchecker_classic": COLORCHECKER_CLASSIC_SRGB8}


def _read_rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FitError(f"{path}: not a readable image")
    return img[..., ::-1].copy()


class ChartSpec(StrictModel):
    """Where the chart is in the photo and what its patches should be."""

    corners: tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]] = Field(
        description="top-left, top-right, bottom-right, bottom-left corner of the patch area, in pixels")
    rows: int = Field(default=4, gt=0)
    cols: int = Field(default=6, gt=0)
    reference: str | list[tuple[float, float, float]] = Field(
        default="colorchecker_classic", description="a known chart, or sRGB 8-bit values row by row")


def fit_from_chart(photo: Path, spec_path: Path, name: str) -> tuple[SensorFit, np.ndarray]:
    """Fit from a chart photo and its spec (``ChartSpec``; corners are given, not detected)."""
    spec: ChartSpec = validate(ChartSpec, read_yaml(spec_path), spec_path)
    corners = np.asarray(spec.corners, float)
    rows, cols = spec.rows, spec.cols
    if isinstance(spec.reference, str):
        if spec.reference not in REFERENCES:
            raise ConfigError(f"{spec_path}: reference: unknown chart '{spec.reference}' "
                              f"(known: {', '.join(REFERENCES)})")
        ref = REFERENCES[spec.reference]
    else:
        ref = np.asarray(spec.reference, float)
    if ref.shape != (rows * cols, 3):
        raise ConfigError(f"{spec_path}: reference: {len(ref)} colours for a {rows} x {cols} chart")
    image = _read_rgb(photo)
    h, w = image.shape[:2]
    if np.any(corners < 0) or np.any(corners[:, 0] >= w) or np.any(corners[:, 1] >= h):
        raise FitError(f"{spec_path}: corners {corners.tolist()} lie outside the {w}x{h} photo {photo}")
    try:
        patches = read_patches(image, corners, rows, cols)
    except ValueError as exc:
        raise FitError(f"{photo}: {exc}") from None
    fit = fit_chart(patches, ref, name)
    predicted = predict(fit.profile, srgb_decode(ref / 255))
    strips = [draw_chart(ref, rows, cols), draw_chart(predicted * 255, rows, cols),
              draw_chart(patches.mean * 255, rows, cols)]
    return fit, _captioned(strips, ["reference", "reference through the fitted profile", "photo"])


def fit_from_pairs(reference_dir: Path, production_dir: Path, name: str) -> tuple[SensorFit, np.ndarray]:
    """Fit from aligned image pairs with matching file names in the two folders."""
    refs = {p.name: p for p in folder_images(reference_dir)} if reference_dir.is_dir() else {}
    prods = {p.name: p for p in folder_images(production_dir)} if production_dir.is_dir() else {}
    common = sorted(refs.keys() & prods.keys())
    if not common:
        raise FitError(f"no image names common to {reference_dir} and {production_dir}; pairs are matched "
                       "by file name")
    reference = [_read_rgb(refs[n]) for n in common]
    production = [_read_rgb(prods[n]) for n in common]
    fit = fit_pairs(reference, production, name)
    predicted = np.clip(predict(fit.profile, srgb_decode(reference[0] / 255)) * 255, 0, 255).astype(np.uint8)
    return fit, _captioned([reference[0], predicted, production[0]],
                           ["reference camera", "through the fitted profile", "production camera"])


def _captioned(images: list[np.ndarray], captions: list[str]) -> np.ndarray:
    tiles = []
    for img, text in zip(images, captions):
        tile = np.vstack([np.full((22, img.shape[1], 3), 255, np.uint8), img.astype(np.uint8)])
        cv2.putText(tile, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    return np.hstack(tiles)


def write_profile(fit: SensorFit, output: Path, comparison: Path, image: np.ndarray) -> None:
    """The profile YAML (validated as a sensor profile) with the fit quality as comments, and the image."""
    validate(SensorProfile, fit.profile, output)
    output.parent.mkdir(parents=True, exist_ok=True)
    header = (f"# fitted by bproc-factory sensor fit on {fit.samples} samples: mean dE2000 "
              f"{fit.mean_delta_e:.2f}, {fit.worst_name} {fit.max_delta_e:.2f}, RMSE {fit.rmse:.4f}\n")
    output.write_text(header + yaml.safe_dump(fit.profile, sort_keys=False), encoding="utf-8")
    write_picture(comparison, image[..., ::-1], "--comparison")



def fit_profile(output: Path, chart: Path | None = None, corners: Path | None = None,
                pairs: tuple[Path, Path] | None = None, comparison: Path | None = None,
                name: str = "fitted") -> SensorFit:
    """Fit a profile from a chart photo (with its corners file) or from aligned image pairs, and
    write it with a before/after image (default: next to the profile)."""
    if (chart is None) == (pairs is None) or (chart is not None and corners is None):
        raise FitError("give either --chart PHOTO --corners CORNERS.yaml, or --pairs REFERENCE_DIR PRODUCTION_DIR")
    comparison = comparison or comparison_path(output)
    check_picture_path(comparison, "--comparison")
    fit, image = fit_from_chart(chart, corners, name) if chart is not None else fit_from_pairs(*pairs, name)
    write_profile(fit, output, comparison, image)
    return fit


def comparison_path(output: Path) -> Path:
    """Where the before/after image of a profile goes by default."""
    return output.with_name(output.stem + "_comparison.png")
