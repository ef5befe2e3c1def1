"""Scenario configs: pydantic models, value distributions, seeded streams and the YAML loader."""
from bproc_factory.facade import facade

__all__, __getattr__, __dir__ = facade(__name__, {
    "base": ["StrictModel"],
    "camera": ["CameraConfig", "CameraProfile", "Intrinsics", "MotionBlur"],
    "distributions": ["bounded", "Distribution", "sample", "sample_int"],
    "post_render": ["is_post_render", "POST_RENDER_KEYS", "render_differences"],
    "loader": ["as_loaded", "ConfigError", "load_scenario", "LoadedScenario", "read_yaml", "validate"],
    "scenario": ["LabelsConfig", "MAX_INSTANCES_PER_IMAGE", "OcclusionTarget", "RenderConfig", "Scenario",
                 "VIEW_LOOKS"],
    "seeding": ["draw", "rng_for", "seed_int"],
    "sensor": ["LensEffects", "SensorProfile"],
})
