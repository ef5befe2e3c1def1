"""``sensor compare``: how images from the real camera differ from a rendered dataset, measured
with image statistics that need no model, and which sensor-profile values to change."""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bproc_factory.dataset import folder_images, iter_meta, open_dataset
from bproc_factory.errors import FactoryError
from bproc_factory.qa import plots
from bproc_factory.sensor import LUMA, srgb_decode

MIN_IMAGES = 3
STATS = ("brightness", "contrast", "red_green", "blue_green", "saturation", "sharpness", "noise",
         "blockiness", "vignetting")
# Relative differences of the medians below these are treated as a match.
TOLERANCE = {"brightness": 0.05, "contrast": 0.1, "red_green": 0.03, "blue_green": 0.03, "saturation": 0.08,
             "sharpness": 0.25, "noise": 0.25, "blockiness": 0.05, "vignetting": 0.05}
CORNER_R2 = 0.85  # mean squared radius of the corner region (r > 0.85 of the half-diagonal)
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


class CompareError(FactoryError, ValueError):
    """The comparison cannot be made; the message names the folder or file."""


def image_stats(rgb8: np.ndarray) -> dict[str, float]:
    """Statistics of one 8-bit RGB image (levels on a 0..255 scale where they are levels)."""
    rgb = rgb8.astype(np.float32)
    luma = rgb @ LUMA
    means = rgb.reshape(-1, 3).mean(axis=0) + 1e-6
    hsv = cv2.cvtColor(rgb8, cv2.COLOR_RGB2HSV)
    h, w = luma.shape
    # Immerkaer's noise estimate: the Laplacian-difference kernel cancels smooth image content
    conv = cv2.filter2D(luma, -1, _NOISE_KERNEL)[1:-1, 1:-1]
    noise = math.sqrt(math.pi / 2) * np.abs(conv).mean() / 6
    # JPEG blockiness: mean step across 8-pixel block borders over the mean step elsewhere
    dx = np.abs(np.diff(luma, axis=1))
    cols = np.arange(dx.shape[1])
    border = dx[:, cols % 8 == 7].mean()
    inner = dx[:, cols % 8 != 7].mean() + 1e-6
    ys, xs = np.mgrid[0:h, 0:w]
    r = np.hypot((xs - (w - 1) / 2) / ((w - 1) / 2), (ys - (h - 1) / 2) / ((h - 1) / 2)) / math.sqrt(2)
    centre, corner = luma[r < 0.3].mean(), luma[r > 0.85].mean()
    return {"brightness": float(luma.mean()), "contrast": float(luma.std()),
            "red_green": float(means[0] / means[1]), "blue_green": float(means[2] / means[1]),
            "saturation": float(hsv[..., 1].mean()),
            "sharpness": float(cv2.Laplacian(luma, cv2.CV_32F).var()), "noise": float(noise),
            "blockiness": float(border / inner), "vignetting": float(corner / (centre + 1e-6))}


def folder_stats(paths: list[Path], size: tuple[int, int] | None = None) -> list[dict[str, float]]:
    """Statistics of each image, resized to ``size`` (width, height) first when given, so that
    per-pixel statistics (sharpness, noise, blockiness) compare like with like."""
    out = []
    for path in paths:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise CompareError(f"{path}: not a readable image")
        if size is not None and (img.shape[1], img.shape[0]) != size:
            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        out.append(image_stats(img[..., ::-1]))
    return out


@dataclass(frozen=True)
class Finding:
    stat: str
    real: float
    synthetic: float
    verdict: str


def _linear(level: float) -> float:
    return float(srgb_decode(np.array(level / 255.0)))


def _advice(stat: str, real: float, synth: float, current: dict[str, Any]) -> str:
    """What to change in the sensor profile to move the synthetic value towards the real one;
    ``current`` holds the dataset's median sampled sensor values."""
    ratio = real / synth if synth else float("inf")
    if stat == "brightness":
        ev = math.log2(max(_linear(real), 1e-6) / max(_linear(synth), 1e-6))
        return f"change exposure_ev by about {ev:+.2f} (to about {current.get('exposure_ev', 0.0) + ev:.2f})"
    if stat == "contrast":
        return ("steepen the tone curve (lower gamma, or a points curve with deeper shadows)" if ratio > 1
                else "flatten the tone curve (raise gamma, or lift the shadows)")
    if stat in ("red_green", "blue_green"):
        c = 0 if stat == "red_green" else 2
        gain = current.get("white_balance", [1.0, 1.0, 1.0])[c] * ratio ** 2.2
        return f"set white_balance {'R' if c == 0 else 'B'} to about {gain:.2f} (x{ratio ** 2.2:.2f})"
    if stat == "saturation":
        return f"set saturation to about {current.get('saturation', 1.0) * ratio:.2f}"
    if stat == "sharpness":
        return ("add softness_px (the renders are sharper; try 0.5-1.0)" if ratio < 1
                else "lower softness_px or raise render samples (the renders are softer)")
    if stat == "noise":
        well = current.get("noise", {}).get("full_well_e")
        target = f" (full_well_e about {well / ratio ** 2:.0f})" if well else ""
        return (f"add noise: lower full_well_e or raise read_noise_e{target}" if ratio > 1
                else f"reduce noise: raise full_well_e or lower read_noise_e{target}")
    if stat == "blockiness":
        quality = current.get("jpeg_quality")
        now = f" (now {quality:.0f})" if quality is not None else ""
        return f"lower jpeg_quality{now}" if ratio > 1 else f"raise jpeg_quality{now}"
    v = current.get("vignetting", 0.0)
    scene_falloff = synth / (1 - v * CORNER_R2)
    target = float(np.clip((1 - real / scene_falloff) / CORNER_R2, 0.0, 1.0))
    return f"set vignetting to about {target:.2f} (now {v:.2f})"


def compare(real: list[dict[str, float]], synthetic: list[dict[str, float]],
            current: dict[str, Any] | None = None) -> list[Finding]:
    """Per statistic: the medians, and advice where they differ both by more than the statistic's
    tolerance and by more than twice the standard error of the difference of medians."""
    if len(real) < MIN_IMAGES or len(synthetic) < MIN_IMAGES:
        raise CompareError(f"need at least {MIN_IMAGES} real and {MIN_IMAGES} rendered images "
                           f"(got {len(real)} and {len(synthetic)})")
    findings = []
    for stat in STATS:
        r = np.array([s[stat] for s in real])
        y = np.array([s[stat] for s in synthetic])
        r_med, y_med = float(np.median(r)), float(np.median(y))
        standard_error = 1.2533 * math.sqrt(r.var() / len(r) + y.var() / len(y))
        threshold = max(TOLERANCE[stat] * abs(r_med), 2 * standard_error, 1e-9)
        verdict = "matches" if abs(r_med - y_med) <= threshold else _advice(stat, r_med, y_med, current or {})
        findings.append(Finding(stat, r_med, y_med, verdict))
    return findings


def current_sensor(metas: list[dict[str, Any]]) -> dict[str, Any]:
    """Median sampled sensor values of a dataset (what the advice changes)."""
    sensors = [m.get("sampled", {}).get("sensor", {}) for m in metas]

    def median(values: list[float]) -> float | None:
        return float(np.median(values)) if values else None

    out: dict[str, Any] = {}
    for key in ("exposure_ev", "saturation", "vignetting", "jpeg_quality"):
        value = median([s[key] for s in sensors if key in s])
        if value is not None:
            out[key] = value
    wbs = [s["white_balance"] for s in sensors if "white_balance" in s]
    if wbs:
        out["white_balance"] = np.median(np.array(wbs), axis=0).tolist()
    wells = [s["noise"]["full_well_e"] for s in sensors if "noise" in s]
    if wells:
        out["noise"] = {"full_well_e": float(np.median(wells))}
    return out


def write_comparison(real: list[dict[str, float]], synthetic: list[dict[str, float]],
                     findings: list[Finding], out: Path) -> Path:
    """Plots, a stats table and ``verdict.md`` in ``out``; returns the verdict's path."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "stats.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["source", *STATS])
        writer.writeheader()
        writer.writerows([{"source": "real", **s} for s in real] + [{"source": "synthetic", **s} for s in synthetic])
    for stat in STATS:
        plots.overlaid_histograms({"real": [s[stat] for s in real], "synthetic": [s[stat] for s in synthetic]},
                                  stat, out / f"{stat}.png")
    lines = ["# Domain gap: real camera vs rendered dataset", "",
             f"{len(real)} real images (resized to the dataset's size), {len(synthetic)} rendered images. "
             "Medians; one plot per statistic in this folder.", "",
             "| statistic | real | synthetic | verdict |", "|---|---|---|---|"]
    lines += [f"| {f.stat} | {f.real:.4g} | {f.synthetic:.4g} | {f.verdict} |" for f in findings]
    changes = [f for f in findings if f.verdict != "matches"]
    lines += ["", f"**{len(changes)} of {len(findings)} statistics differ.**" if changes else
              "**The rendered images match the real camera on every statistic.**"]
    verdict = out / "verdict.md"
    verdict.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return verdict


def compare_with_dataset(real: Path, dataset: Path, output: Path) -> tuple[list[Finding], Path]:
    """Compare the real camera's images in ``real`` with a rendered dataset; write plots, stats
    and the verdict into ``output``; returns the findings and the verdict's path."""
    ds, _, coco = open_dataset(dataset)
    if not real.is_dir():
        raise CompareError(f"{real}: not a folder of images")
    size = (coco["images"][0]["width"], coco["images"][0]["height"]) if coco["images"] else None
    real_stats = folder_stats(folder_images(real), size)
    synthetic = folder_stats([ds.image_path(im["id"]) for im in coco["images"]])
    findings = compare(real_stats, synthetic, current_sensor(list(iter_meta(dataset))))
    return findings, write_comparison(real_stats, synthetic, findings, output)
