"""Light colour (pure): the black-body colour of a colour temperature, in linear sRGB."""
from __future__ import annotations

import numpy as np

# CIE XYZ -> linear sRGB (Rec. 709 primaries, D65).
_XYZ_TO_SRGB = np.array([[3.2404542, -1.5371385, -0.4985314],
                         [-0.9692660, 1.8760108, 0.0415560],
                         [0.0556434, -0.2040259, 1.0572252]])

MIN_KELVIN, MAX_KELVIN = 1667.0, 25000.0


def kelvin_to_rgb(kelvin: float) -> tuple[float, float, float]:
    """Linear sRGB colour of a black body at ``kelvin`` (max channel 1).

    Uses Kim et al.'s cubic fit of the Planckian locus in CIE xy (valid 1667-25000 K).
    """
    t = float(np.clip(kelvin, MIN_KELVIN, MAX_KELVIN))
    if t <= 4000:
        x = -0.2661239e9 / t**3 - 0.2343589e6 / t**2 + 0.8776956e3 / t + 0.179910
    else:
        x = -3.0258469e9 / t**3 + 2.1070379e6 / t**2 + 0.2226347e3 / t + 0.240390
    if t <= 2222:
        y = -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
    elif t <= 4000:
        y = -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
    else:
        y = 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483
    xyz = np.array([x / y, 1.0, (1 - x - y) / y])
    rgb = np.clip(_XYZ_TO_SRGB @ xyz, 0.0, None)
    rgb /= rgb.max()
    return (float(rgb[0]), float(rgb[1]), float(rgb[2]))

