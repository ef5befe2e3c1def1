"""Which config keys act only after Cycles: the sensor, the lens obstructions, exposure, tone and the
image encoding. A kept scene-linear render is developed again for new values of these keys
(``bproc-factory develop``), and a sweep over them renders once; any other key changes the render."""
from __future__ import annotations

from typing import Any

from bproc_factory.config.scenario import Scenario

POST_RENDER_KEYS = ("sensor", "lens", "render.exposure_ev", "render.view_transform", "render.look",
                    "render.image_format", "render.jpeg_quality", "render.keep_linear")


def is_post_render(key: str) -> bool:
    """Whether a dotted config key (``sensor.profile``, ``render.exposure_ev``) acts only after Cycles."""
    return any(key == k or key.startswith((k + ".", k + "[")) for k in POST_RENDER_KEYS)


def render_differences(a: Scenario, b: Scenario) -> list[str]:
    """The keys, outside the post-render ones, at which two scenarios differ: what would change the render."""
    return [key for key in _differences(a.model_dump(mode="json"), b.model_dump(mode="json"), "")
            if not is_post_render(key)]


def _differences(a: Any, b: Any, key: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in _differences(a.get(k), b.get(k), f"{key}.{k}" if key else str(k))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for k, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{key}[{k}]")]
    return [] if a == b else [key]
