"""What scenes are made of: asset folders, categories, the material library and environments
(designer scene marks, photo backplates)."""
from bproc_factory.facade import facade

__all__, __getattr__, __dir__ = facade(__name__, {
    "asset": ["Asset", "AssetSpec", "billboard_elevation_warnings", "load_mesh", "resolve_assets",
             "tree_sha256"],
    "backplate": ["is_backplate", "load_backplate", "scene_sha256"],
    "categories": ["category_ids"],
    "environment": ["PlacementArea", "SceneInfo", "Survey"],
    "materials": ["Finish", "MaterialSpec", "check_materials", "group_materials", "resolve_material",
                  "sample_finish", "sample_material", "surface_materials"],
})
