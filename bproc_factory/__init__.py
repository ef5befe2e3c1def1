"""bproc_factory: a synthetic-data factory for computer vision on Blender and BlenderProc.

The Python API of the main job (the CLI calls the same functions)::

    from bproc_factory import Dataset, load_scenario, render
    scenario = load_scenario("configs/demo.yaml", overrides=("render.samples=16",))
    dataset = render(scenario, "out/demo", count=4, seed=7)  # a Dataset; Blender runs in a child
    print(dataset.meta(0)["annotations"])
"""
__version__ = "0.1.0"

from bproc_factory.facade import facade  # noqa: E402  (after __version__, which stages import)

# the API names load their stage on first use, so ``import bproc_factory`` stays instant
__all__, __getattr__, __dir__ = facade(__name__, {
    "config": ["load_scenario"], "run": ["render"], "dataset": ["Dataset"], "errors": ["FactoryError"],
})
__all__ += ["__version__"]
