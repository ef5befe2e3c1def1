"""Running a render: the render job, how a request is carried out (sweep, shard, workers), the
Ray farm, developing kept renders again, previews and config checks."""
from bproc_factory.facade import facade

__all__, __getattr__, __dir__ = facade(__name__, {
    "api": ["render"],
    "check": ["check_config", "survey_lines", "survey_record", "survey_scene"],
    "develop": ["develop_dataset", "DevelopSummary"],
    "dispatch": ["RenderEvents", "run_render", "summary_lines"],
    "farm": ["run_farm"],
    "preview": ["render_preview"],
})
