"""Starting a project: a folder with a working scenario, the demo scene and assets, and presets."""
from bproc_factory.facade import facade

__all__, __getattr__, __dir__ = facade(__name__, {
    "starter": ["StarterProject", "init_project"],
})
