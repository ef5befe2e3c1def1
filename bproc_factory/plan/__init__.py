"""Planning one scene as plain data (pure, seeded): objects, placement and physics, lights, world,
views."""
from bproc_factory.facade import facade

__all__, __getattr__, __dir__ = facade(__name__, {
    "fit": ["check_fit"],
    "records": ["LightPlan", "ObjectPlan", "ScenePlan", "ViewPlan"],
    "scene": ["group_by_scene", "plan_scene"],
    "views": ["plan_view"],
})
