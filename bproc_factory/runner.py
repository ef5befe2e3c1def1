"""The render job: config -> plan -> apply/render (bpy) -> labels -> atomic writes, resumable.

Only ``RenderSession`` touches Blender; it is imported when there is something to render.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bproc_factory import __version__
from bproc_factory.colour import linear_to_srgb8
from bproc_factory.config.loader import LoadedScenario, load_scenario
from bproc_factory.dataset import Dataset
from bproc_factory.labels import annotations
from bproc_factory.meta import image_meta
from bproc_factory.plan import category_ids, check_fit, group_by_scene, plan_scene, resolve_assets

STAGES = ("plan", "apply", "render", "labels", "write")


@dataclass
class RunSummary:
    """What a run did, with wall time per stage (seconds, summed over scenes)."""

    output: Path
    requested: int
    rendered: int = 0
    skipped: int = 0
    instances: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    setup_seconds: float = 0.0
    device: str = "none"

    @property
    def seconds_per_image(self) -> float:
        return self.seconds / self.rendered if self.rendered else 0.0


ProgressFn = Callable[[int, int], None]


def render_dataset(config: Path, output: Path, count: int, start: int = 0, seed: int = 0,
                   overrides: tuple[str, ...] = (), on_progress: ProgressFn | None = None,
                   on_total: Callable[[int], None] | None = None) -> RunSummary:
    """Render images ``start .. start+count-1`` of the run (config, seed) into ``output``.

    Images already complete in ``output`` are skipped; ``coco.json`` is rebuilt at the end.
    """
    t0 = time.perf_counter()
    loaded = load_scenario(config, overrides)
    sc = loaded.scenario
    assets = resolve_assets(loaded)
    categories = category_ids(loaded, assets)
    dataset = Dataset(output, image_suffix=f".{sc.render.image_format}")
    dataset.check_writable()
    dataset.remove_stale_temp_files()
    todo = dataset.missing(range(start, start + count))
    summary = RunSummary(output=dataset.root, requested=count, skipped=count - len(todo))
    if on_total:
        on_total(len(todo))
    session = None
    try:
        try:
            provenance: dict = {}
            if todo:
                from bproc_factory.blender.session import RenderSession, versions

                session = RenderSession(loaded.resolve(sc.scene), sc.render, sc.camera.clip_m)
                check_fit(loaded, assets, session.info)
                summary.device = session.device
                provenance = {"config_sha256": loaded.sha256, "bproc_factory": __version__,
                              **versions(), "render_device": session.device}
            dataset.claim({"config_sha256": loaded.sha256, "run_seed": seed,
                           "categories": categories, "image_suffix": dataset.image_suffix,
                           "config": sc.model_dump(mode="json"), "config_path": str(loaded.path)})
        except BaseException:
            dataset.discard_if_unused()  # a refused run leaves no empty dataset folder behind
            raise
        summary.setup_seconds = time.perf_counter() - t0
        try:
            for scene, indices in group_by_scene(todo, sc.views_per_scene).items():
                _render_scene(loaded, assets, session, dataset, seed, scene, indices, categories,
                              provenance, summary, on_progress)
        finally:
            dataset.write_coco()  # also after a failure: COCO always matches the finished images
    finally:
        if session is not None:
            session.close()
    summary.seconds = time.perf_counter() - t0
    return summary


def _render_scene(loaded: LoadedScenario, assets, session, dataset: Dataset, seed: int, scene: int,
                  indices: list[int], categories: dict[str, int], provenance: dict,
                  summary: RunSummary, on_progress: ProgressFn | None) -> None:
    stage = summary.stage_seconds
    t = time.perf_counter()
    plan = plan_scene(loaded, assets, session.info, seed, scene, indices)
    stage["plan"] += time.perf_counter() - t
    views = session.render(plan, stage)
    category_of = {o.instance_id: categories[o.category] for o in plan.objects}
    render_cfg = loaded.scenario.render
    for view, rendered in zip(plan.views, views):
        t = time.perf_counter()
        anns = annotations(rendered.instances, view.image_index, category_of)
        meta = image_meta(seed, plan, view, dataset.image_path(view.image_index).name, categories,
                          anns, provenance)
        rgb8 = linear_to_srgb8(rendered.rgb_linear, render_cfg.exposure_ev)
        stage["labels"] += time.perf_counter() - t
        t = time.perf_counter()
        dataset.write_image(view.image_index, rgb8, rendered.instances, meta, render_cfg.jpeg_quality)
        stage["write"] += time.perf_counter() - t
        summary.rendered += 1
        summary.instances += len(anns)
        if on_progress:
            on_progress(summary.rendered, len(anns))
