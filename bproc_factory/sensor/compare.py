"""``sensor compare``: how images from the real camera differ from a rendered dataset, measured
with image statistics that need no model, and which sensor-profile values to change."""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from bproc_factory.qa import plots

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
STATS = ("brightness", "contrast", "red_green", "blue_green", "saturation", "sharpness", "noise",
         "blockiness", "vignetting")
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def image_stats(rgb8: np.ndarray) -> dict[str, float]:
    """Statistics of one 8-bit RGB image (values on a 0..255 scale where they are levels)."""
    rgb = rgb8.astype(np.float32)
    luma = rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32)
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


def folder_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def folder_stats(paths: list[Path]) -> list[dict[str, float]]:
    out = []
    for path in paths:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"{path}: not a readable image")
        out.append(image_stats(img[..., ::-1]))
    return out


@dataclass(frozen=True)
class Finding:
    stat: str
    real: float
    synthetic: float
    verdict: str


def _advice(stat: str, real: float, synth: float) -> str:
    """What to change in the sensor profile to move the synthetic value towards the real one."""
    ratio = real / synth if synth else float("inf")
    if stat == "brightness":
        return f"change exposure_ev by about {2.2 * math.log2(max(ratio, 1e-3)):+.2f}"
    if stat == "contrast":
        return ("steepen the tone curve (lower gamma, or a points curve with deeper shadows)" if ratio > 1
                else "flatten the tone curve (raise gamma, or lift the shadows)")
    if stat in ("red_green", "blue_green"):
        channel = "R" if stat == "red_green" else "B"
        return f"multiply white_balance {channel} by about {ratio ** 2.2:.2f}"
    if stat == "saturation":
        return f"set saturation to about {ratio:.2f} times its value"
    if stat == "sharpness":
        return ("add softness_px (the renders are sharper)" if ratio < 1
                else "lower softness_px or use more samples (the renders are softer)")
    if stat == "noise":
        return ("add noise: lower full_well_e or raise read_noise_e" if ratio > 1
                else "reduce noise: raise full_well_e or lower read_noise_e")
    if stat == "blockiness":
        return "add jpeg_quality (lower quality gives stronger 8x8 blocks)" if ratio > 1 else "raise jpeg_quality"
    return (f"set vignetting to about {1 - real:.2f}" if ratio < 1 else "lower vignetting")


# Relative differences of the medians below these are treated as a match.
TOLERANCE = {"brightness": 0.05, "contrast": 0.1, "red_green": 0.03, "blue_green": 0.03, "saturation": 0.08,
             "sharpness": 0.25, "noise": 0.25, "blockiness": 0.05, "vignetting": 0.05}


def compare(real: list[dict[str, float]], synthetic: list[dict[str, float]]) -> list[Finding]:
    """Per statistic: the medians, and advice where they differ both by more than the statistic's
    tolerance and by more than twice the standard error of the difference of medians."""
    findings = []
    for stat in STATS:
        r = np.array([s[stat] for s in real])
        y = np.array([s[stat] for s in synthetic])
        r_med, y_med = float(np.median(r)), float(np.median(y))
        standard_error = 1.2533 * math.sqrt(r.var() / len(r) + y.var() / len(y))
        threshold = max(TOLERANCE[stat] * abs(r_med), 2 * standard_error, 1e-9)
        verdict = "matches" if abs(r_med - y_med) <= threshold else _advice(stat, r_med, y_med)
        findings.append(Finding(stat, r_med, y_med, verdict))
    return findings


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
             f"{len(real)} real images, {len(synthetic)} rendered images. Medians; one plot per statistic "
             "in this folder.", "", "| statistic | real | synthetic | verdict |", "|---|---|---|---|"]
    lines += [f"| {f.stat} | {f.real:.4g} | {f.synthetic:.4g} | {f.verdict} |" for f in findings]
    changes = [f for f in findings if f.verdict != "matches"]
    lines += ["", f"**{len(changes)} of {len(findings)} statistics differ.**" if changes else
              "**The rendered images match the real camera on every statistic.**"]
    verdict = out / "verdict.md"
    verdict.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return verdict
