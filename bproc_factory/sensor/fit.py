"""``sensor fit``: a sensor profile for a production camera, from a chart photo or image pairs.

Model (the sensor pipeline without its spatial steps): ``display = T(M @ linear)`` with
``M = exposure * diag(white_balance) @ ccm`` (CCM rows summing to 1) and a power-law tone curve
``T(x) = x ** (1 / gamma)``; plus shot/read noise fitted from the pixel spread. ``linear`` is the
ideal scene-linear colour: the chart's reference values, or the reference camera's sRGB pixels.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from scipy.optimize import least_squares
from skimage.color import deltaE_ciede2000, rgb2lab

from bproc_factory.errors import FactoryError
from bproc_factory.sensor.chart import NEUTRAL_PATCHES, Patches
from bproc_factory.sensor.pipeline import srgb_decode

MAX_MEAN_DELTA_E = 12.0  # a fit worse than this explains the camera too poorly to use
MIN_R2 = 0.8  # the model must explain this share of the production values' variance, per channel
GAMMA_RANGE = (1.0, 4.0)


class FitError(FactoryError, ValueError):
    """The inputs cannot be fitted; the message says why and what to supply instead."""


@dataclass
class SensorFit:
    """A fitted sensor: its profile (as written to YAML) and how well it explains the inputs."""

    profile: dict[str, Any]
    mean_delta_e: float
    max_delta_e: float
    rmse: float
    samples: int
    r2: float  # the smallest share of variance explained, over the three channels
    notes: list[str] = field(default_factory=list)
    worst_name: str = "worst"  # what max_delta_e is: the worst sample, or a percentile of many


def _r2(predicted: np.ndarray, observed: np.ndarray) -> float:
    sse = ((predicted - observed) ** 2).sum(axis=0)
    sst = ((observed - observed.mean(axis=0)) ** 2).sum(axis=0) + 1e-12
    return float((1 - sse / sst).min())


def _tone(x: np.ndarray, gamma: float) -> np.ndarray:
    return np.power(np.clip(x, 0.0, 1.0), 1.0 / gamma)


def decompose(M: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``M = exposure * diag(wb) @ ccm`` with CCM rows summing to 1 and the green gain 1."""
    sums = M.sum(axis=1)
    if np.any(sums <= 0):
        raise FitError(f"the fitted colour matrix maps grey to a non-positive colour (row sums {sums.round(3)})")
    exposure = float(sums[1])
    return exposure, sums / exposure, M / sums[:, None]


def _profile(name: str, gamma: float, M: np.ndarray, noise: dict | None) -> dict[str, Any]:
    exposure, wb, ccm = decompose(M)
    profile: dict[str, Any] = {
        "name": name, "description": "fitted by bproc-factory sensor fit",
        "exposure_ev": float(np.log2(exposure)),
        "ccm": [[round(float(v), 5) for v in row] for row in ccm],
        "white_balance": [round(float(v), 5) for v in wb],
        "tone": {"curve": "gamma", "gamma": round(float(gamma), 4)}}
    if noise:
        profile["noise"] = noise
    return profile


def _delta_e(predicted: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """CIEDE2000 between display-sRGB colours (N x 3, 0..1)."""
    return deltaE_ciede2000(rgb2lab(np.clip(predicted, 0, 1)[None]), rgb2lab(np.clip(observed, 0, 1)[None]))[0]


def fit_noise(signal_linear: np.ndarray, variance_linear: np.ndarray) -> dict[str, float] | None:
    """Shot and read noise from linear signal levels and their variances: ``var = x / well + read² / well²``."""
    ok = (signal_linear > 0.01) & (signal_linear < 0.95) & np.isfinite(variance_linear)
    if ok.sum() < 3:
        return None
    A = np.stack([signal_linear[ok], np.ones(ok.sum())], axis=1)
    (a, b), *_ = np.linalg.lstsq(A, variance_linear[ok], rcond=None)
    if a <= 0:
        return None
    well = 1.0 / a
    return {"full_well_e": round(float(well), 1), "read_noise_e": round(float(np.sqrt(max(b, 0.0)) * well), 2)}


def fit_chart(patches: Patches, reference_srgb8: np.ndarray, name: str = "fitted") -> SensorFit:
    """Fit from a chart: the tone curve and gains from the neutral patches, then the colour matrix
    from all patches, then noise from each patch's pixel spread."""
    notes = []
    usable = patches.clipped < 0.05
    if usable.sum() < 12:
        raise FitError(f"{int((~usable).sum())} of {len(usable)} patches are clipped; expose the chart "
                       "so that the white patch stays below 255 and the black one above 0")
    ref_lin = srgb_decode(np.asarray(reference_srgb8, float) / 255)
    observed = patches.mean
    neutral = np.arange(len(observed))[NEUTRAL_PATCHES]
    neutral = neutral[usable[neutral] & (observed[neutral].min(axis=1) > 0.02)]
    if len(neutral) < 3:
        raise FitError("fewer than 3 usable neutral (grey) patches: the tone curve cannot be fitted")
    # log(observed_c) = (1 / gamma) * (log g_c + log Y): a shared slope and one intercept per channel
    y = np.log(ref_lin[neutral].mean(axis=1))
    rows, rhs = [], []
    for c in range(3):
        for yi, oi in zip(y, np.log(observed[neutral, c])):
            row = np.zeros(4)
            row[0], row[1 + c] = yi, 1.0
            rows.append(row)
            rhs.append(oi)
    (slope, *_), *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    gamma = 1.0 / slope
    if not GAMMA_RANGE[0] <= gamma <= GAMMA_RANGE[1]:
        raise FitError(f"the neutral patches give a tone curve of gamma {gamma:.2f}, outside "
                       f"{GAMMA_RANGE}; check the chart corners and the reference values")
    lin_obs = np.power(np.clip(observed, 1e-6, 1.0), gamma)
    M, *_ = np.linalg.lstsq(ref_lin[usable], lin_obs[usable], rcond=None)
    M = M.T
    predicted = _tone(ref_lin @ M.T, gamma)
    de = _delta_e(predicted[usable], observed[usable])
    # noise: the display spread of a patch maps to linear through the tone curve's slope
    slope_lin = gamma * np.power(np.clip(observed, 1e-3, 1.0), gamma - 1)
    noise = fit_noise(lin_obs[usable].ravel(), ((patches.std * slope_lin) ** 2)[usable].ravel())
    if noise is None:
        notes.append("no noise model: the patches' pixel spread does not grow with brightness")
    fit = SensorFit(_profile(name, gamma, M, noise), float(de.mean()), float(de.max()),
                    float(np.sqrt(np.mean((predicted[usable] - observed[usable]) ** 2))), int(usable.sum()),
                    _r2(predicted[usable], observed[usable]), notes)
    _refuse_poor(fit)
    return fit


def fit_pairs(reference_rgb8: list[np.ndarray], production_rgb8: list[np.ndarray], name: str = "fitted",
              max_samples: int = 30_000, seed: int = 0) -> SensorFit:
    """Fit from aligned pairs: reference-camera sRGB pixels (taken as ideal) against the production
    camera's. Flat, unclipped pixels are sampled; gamma and the 3x3 matrix by least squares; noise
    from the local spread of the production image's residual."""
    if not reference_rgb8 or len(reference_rgb8) != len(production_rgb8):
        raise FitError("give the same number (at least one) of reference and production images")
    rng = np.random.default_rng(seed)
    refs, prods, spreads = [], [], []
    for k, (ref, prod) in enumerate(zip(reference_rgb8, production_rgb8)):
        if ref.shape != prod.shape:
            raise FitError(f"pair {k + 1}: sizes differ ({ref.shape[1]}x{ref.shape[0]} vs "
                           f"{prod.shape[1]}x{prod.shape[0]}); the pairs must be aligned images")
        r, p = ref.reshape(-1, 3).astype(np.float64) / 255, prod.reshape(-1, 3).astype(np.float64) / 255
        flat = _flat_pixels(ref)
        ok = flat & (r.min(axis=1) > 0.03) & (r.max(axis=1) < 0.97) & (p.min(axis=1) > 0.01) & (p.max(axis=1) < 0.99)
        idx = np.flatnonzero(ok)
        take = rng.choice(idx, size=min(len(idx), max_samples // len(reference_rgb8)), replace=False) if len(idx) else idx
        refs.append(r[take])
        prods.append(p[take])
        spreads.append((r[take], _local_residual(prod).reshape(-1, 3)[take]))
    ref = np.concatenate(refs)
    obs = np.concatenate(prods)
    if len(ref) < 500:
        raise FitError(f"only {len(ref)} usable pixels (flat, neither clipped nor black) in the pairs; "
                       "use well-exposed, aligned images of a textured scene")
    ref_lin = srgb_decode(ref)

    def residual(params: np.ndarray) -> np.ndarray:
        return (_tone(ref_lin @ params[1:].reshape(3, 3).T, params[0]) - obs).ravel()

    # start from the linear least-squares matrix under a 2.2 power law, so that no exposure
    # difference between the cameras starts the search far from the answer
    M0, *_ = np.linalg.lstsq(ref_lin, np.power(obs, 2.2), rcond=None)
    start = np.concatenate([[2.2], M0.T.ravel()])
    bound = max(20.0, 4 * float(np.abs(M0).max()))
    lower, upper = [GAMMA_RANGE[0]] + [-bound] * 9, [GAMMA_RANGE[1]] + [bound] * 9
    result = least_squares(residual, start, bounds=(lower, upper))
    if not result.success:
        raise FitError(f"the fit did not converge ({result.message})")
    gamma, M = float(result.x[0]), result.x[1:].reshape(3, 3)
    if np.any(np.isclose(result.x[1:], lower[1:])) or np.any(np.isclose(result.x[1:], upper[1:])):
        raise FitError("the colour matrix ran into its bounds; the production images do not follow the "
                       "reference images (are the pairs aligned views of the same scene?)")
    predicted = _tone(ref_lin @ M.T, gamma)
    de = _delta_e(predicted, obs)
    noise = _pair_noise(spreads, gamma, M)
    notes = [] if noise else ["no noise model: the residual spread does not grow with brightness"]
    if gamma >= GAMMA_RANGE[1] - 1e-3 or gamma <= GAMMA_RANGE[0] + 1e-3:
        raise FitError(f"the tone curve ran into its limit (gamma {gamma:.2f}); the production images do not "
                       "follow the reference images (are the pairs aligned views of the same scene?)")
    fit = SensorFit(_profile(name, gamma, M, noise), float(de.mean()), float(np.percentile(de, 99)),
                    float(np.sqrt(np.mean((predicted - obs) ** 2))), len(ref), _r2(predicted, obs), notes,
                    worst_name="99th percentile")
    _refuse_poor(fit)
    return fit


def _flat_pixels(image_rgb8: np.ndarray) -> np.ndarray:
    """Pixels away from edges (small local gradient), where slight misalignment does not matter."""
    grey = cv2.cvtColor(image_rgb8, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grad = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    return (cv2.dilate(grad, np.ones((5, 5), np.uint8)) < 20).ravel()


def _local_residual(production: np.ndarray) -> np.ndarray:
    """The production image minus its own local mean: noise plus fine detail (detail is excluded
    by the flat-pixel mask)."""
    p = production.astype(np.float32) / 255
    return p - cv2.blur(p, (5, 5))


def _pair_noise(spreads: list[tuple[np.ndarray, np.ndarray]], gamma: float, M: np.ndarray) -> dict | None:
    ref = np.concatenate([s[0] for s in spreads])
    res = np.concatenate([s[1] for s in spreads])
    lin = np.clip(srgb_decode(ref) @ M.T, 1e-4, 1.0)
    slope = np.power(lin, 1.0 / gamma - 1.0) / gamma  # d display / d linear
    lin_res = res / slope * np.sqrt(25 / 24)  # undo the 5x5 mean's share of the variance
    bins = np.linspace(0.02, 0.9, 12)
    levels, variances = [], []
    for lo, hi in zip(bins[:-1], bins[1:]):
        sel = (lin >= lo) & (lin < hi)
        if sel.sum() > 200:
            levels.append(lin[sel].mean())
            variances.append(np.median(lin_res[sel] ** 2) / 0.455)  # median of chi² with 1 dof
    return fit_noise(np.array(levels), np.array(variances)) if levels else None


def _refuse_poor(fit: SensorFit) -> None:
    if fit.r2 < MIN_R2:
        raise FitError(f"the fit explains only {fit.r2:.0%} of the production values' variance in one channel "
                       f"(needs {MIN_R2:.0%}); the inputs do not follow the camera model (check alignment, "
                       "corners or reference values)")
    if fit.mean_delta_e > MAX_MEAN_DELTA_E:
        raise FitError(f"the best fit is off by a mean ΔE2000 of {fit.mean_delta_e:.1f} (> {MAX_MEAN_DELTA_E}); "
                       "the inputs do not follow the camera model (check alignment, corners or reference values)")


def predict(profile: dict[str, Any], linear: np.ndarray) -> np.ndarray:
    """What the fitted camera makes of scene-linear colours (display values 0..1)."""
    M = 2.0 ** profile["exposure_ev"] * np.diag(profile["white_balance"]) @ np.asarray(profile["ccm"])
    return _tone(linear @ M.T, profile["tone"]["gamma"])

