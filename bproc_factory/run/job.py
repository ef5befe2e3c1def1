"""The render job: config -> plan -> apply/render (bpy) -> labels -> atomic writes, resumable.

Only ``RenderSession`` touches Blender; it is imported when there is something to render.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

import cv2
import numpy as np

from bproc_factory import __version__
from bproc_factory.assets import (
    Asset,
    category_ids,
    check_materials,
    is_backplate,
    load_backplate,
    resolve_assets,
    scene_sha256,
)
from bproc_factory.config import LoadedScenario, as_loaded
from bproc_factory.dataset import Dataset, coco_record, half_linear, write_datasheet
from bproc_factory.errors import Stopped
from bproc_factory.labels import Visibility, amodal_canvas, annotations, image_meta, occlusion_outcome, visibilities
from bproc_factory.plan import ScenePlan, check_fit, group_by_scene, plan_scene, plan_view
from bproc_factory.sensor import develop_pixels, srgb_decode, warp_image, warp_labels
from bproc_factory.timing import timed

if TYPE_CHECKING:  # Blender is imported only when there is something to render
    from bproc_factory.blender import LabelMaps, RenderSession

STAGES = ("plan", "apply", "label_pass", "amodal_pass", "beauty_pass", "labels", "sensor", "write")
COCO_WRITE_INTERVAL_S = 30.0  # coco.json is rewritten after a scene at most this often, and at the end

ProgressFn = Callable[[int, int], None]


@dataclass
class RunSummary:
    """What a run did, with wall time per stage (seconds, summed over scenes)."""

    output: Path
    requested: int
    rendered: int = 0
    skipped: int = 0
    instances: int = 0
    seconds: float = 0.0
    setup_seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    device: str = "none"
    warnings: list[str] = field(default_factory=list)
    visibility: list[float] = field(default_factory=list)  # visib_fract of every annotation
    occlusion: list[dict[str, Any]] = field(default_factory=list)  # each image's occlusion outcome

    @property
    def seconds_per_image(self) -> float:
        """Rendering wall time per image, without the one-off setup."""
        return (self.seconds - self.setup_seconds) / self.rendered if self.rendered else 0.0


@dataclass
class _Job:
    """Everything one run needs while it renders scene after scene."""

    loaded: LoadedScenario
    assets: list[list[Asset]]
    dataset: Dataset
    seed: int
    categories: dict[str, int]
    identity: dict[str, Any]
    records: dict[int, dict[str, Any]]
    summary: RunSummary
    subset: dict[str, Any] | None
    device: str = "auto"
    session: RenderSession | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    last_coco_write: float = float("-inf")
    instance_maps: dict[int, np.ndarray] = field(default_factory=dict)  # labelled, not yet written
    linear_for: frozenset[int] = frozenset()  # images whose scene-linear render is kept
    _photo: np.ndarray | None = None

    def photo_linear(self) -> np.ndarray:
        """The backplate photo, scene-linear, read once."""
        if self._photo is None:
            photo = cv2.imread(self.session.info.backplate["photo"], cv2.IMREAD_COLOR)
            self._photo = srgb_decode(photo[..., ::-1].astype(np.float32) / 255).astype(np.float32)
        return self._photo

    def write_coco(self, final: bool = False) -> None:
        """Rewrite coco.json (throttled unless ``final``); the datasheet too when ``final``."""
        if final or time.monotonic() - self.last_coco_write >= COCO_WRITE_INTERVAL_S:
            self.dataset.write_coco(self.records, self.categories, self.identity)
            self.last_coco_write = time.monotonic()
        if final:
            write_datasheet(self.dataset.root, self.identity, self.records)


def run_identity(loaded: LoadedScenario, seed: int, assets: list[list[Asset]],
                 categories: dict[str, int]) -> dict[str, Any]:
    """What ``run.json`` records of a run: the config, seed and input hashes that make its images
    (a folder holds one run), and where the config and assets came from."""
    sc = loaded.scenario
    return {"config_sha256": loaded.sha256, "run_seed": seed, "categories": categories,
            "overrides": list(loaded.overrides),
            "image_suffix": f".{sc.render.image_format}",
            "inputs": {"scene": scene_sha256(loaded.resolve(sc.scene)),
                       "assets": {a.name: a.sha256 for group in assets for a in group}},
            "config": sc.model_dump(mode="json"), "config_path": str(loaded.path),
            "asset_info": {a.name: {"category": a.category, "source": a.spec.source,
                                    "license": a.spec.license, "folder": str(a.folder)}
                           for group in assets for a in group}}


def render_dataset(config: Path | LoadedScenario, output: Path, count: int, start: int = 0, seed: int = 0,
                   overrides: tuple[str, ...] = (), on_progress: ProgressFn | None = None,
                   on_total: Callable[[int], None] | None = None,
                   stop_requested: Callable[[], str | None] = lambda: None,
                   subset: dict[str, Any] | None = None, device: str = "auto",
                   linear_for: frozenset[int] = frozenset()) -> RunSummary:
    """Render images ``start .. start+count-1`` of the run (config, seed) into ``output``.

    ``config`` is a scenario file (loaded with ``overrides``) or an already loaded scenario.
    Complete images already in ``output`` are skipped. ``coco.json`` is rewritten from the
    per-image records after scenes (at most every ``COCO_WRITE_INTERVAL_S``) and at the end.
    ``stop_requested`` is polled between scenes; a reason it returns ends the run with ``Stopped``.
    ``subset`` (a sweep's subset name and values) is recorded in every image's meta. ``device``:
    auto (OptiX, else CUDA, else CPU), cpu, cuda or optix. ``linear_for``: images whose scene-linear
    render is kept although the config does not ask (a sweep develops its other subsets from them);
    a complete image whose kept file is missing is rendered again.
    """
    t0 = time.perf_counter()
    loaded = as_loaded(config, overrides)
    sc = loaded.scenario
    assets = resolve_assets(loaded)
    categories = category_ids(loaded, assets)
    identity = run_identity(loaded, seed, assets, categories)
    dataset = Dataset(output, image_suffix=identity["image_suffix"])
    dataset.check_writable()
    with dataset.locked():  # one run per folder, from here to the end
        dataset.remove_stale_temp_files()
        records, broken = dataset.load_records()
        requested = range(start, start + count)
        keep = frozenset(requested) if sc.render.keep_linear else linear_for
        todo = [i for i in requested if i not in records or (i in keep and not dataset.linear_path(i).is_file())]
        summary = RunSummary(output=dataset.root, requested=count, skipped=count - len(todo))
        summary.warnings += [f"{p}: damaged (unreadable, cut short or of the wrong size); its image is "
                             "re-rendered if requested, and left out of coco.json otherwise" for p in broken]
        job = _Job(loaded, assets, dataset, seed, categories, identity, records, summary, subset, device=device,
                   linear_for=keep)
        try:
            _start(job, todo[0] if todo else None)
            summary.setup_seconds = time.perf_counter() - t0
            if on_total:  # after the checks, so a refused run prints its error alone
                on_total(len(todo))
            try:
                for scene, indices in group_by_scene(todo, sc.views_per_scene).items():
                    reason = stop_requested()
                    if reason:
                        raise Stopped(f"{reason}: stopped before scene {scene}")
                    _render_scene(job, scene, indices, on_progress)
                    job.write_coco()
            finally:
                job.write_coco(final=True)  # also after a failure or interrupt: matches finished images
        finally:
            if job.session is not None:
                job.session.close()
    summary.seconds = time.perf_counter() - t0
    return summary


def composite(rgb: np.ndarray, alpha: np.ndarray, shadow: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """Objects (premultiplied RGB, alpha) over the photo darkened by the shadow catcher's factor."""
    return rgb + (1.0 - alpha)[..., None] * photo * np.clip(shadow, 0.0, 1.0)


def _start(job: _Job, first: int | None) -> None:
    """Open the scene (when there is work, ``first`` being the first image to render), check the
    fit and the camera, and claim the output folder."""
    try:
        if first is not None:
            sc = job.loaded.scenario
            scene = job.loaded.resolve(sc.scene)
            check_materials(job.loaded)  # what can be refused without Blender is, before loading it
            if is_backplate(scene):
                check_fit(job.loaded, job.assets, load_backplate(scene))
            from bproc_factory.blender import RenderSession, versions

            job.session = RenderSession(scene, sc, device=job.device)
            check_fit(job.loaded, job.assets, job.session.info)
            plan_view(job.loaded, job.session.info, job.seed, first)  # an unrenderable lens fails here
            fell_back = job.device == "auto" and job.session.device == "CPU"
            job.summary.device = "CPU (auto: no OptiX or CUDA device)" if fell_back else job.session.device
            job.provenance = {"config_sha256": job.loaded.sha256, "bproc_factory": __version__,
                              **versions(), "render_device": job.session.device}
        job.identity = job.dataset.claim(job.identity)
    except BaseException:
        job.dataset.discard_if_unused()  # a refused run leaves no empty dataset folder behind
        raise


def _render_scene(job: _Job, scene: int, indices: list[int], on_progress: ProgressFn | None) -> None:
    stage = job.summary.stage_seconds
    try:
        plan, labelled = _settle_scene(job, scene, indices)
        rendered = job.session.beauty(plan, stage, set(indices))
    finally:
        with timed(stage, "apply"):
            job.session.clear()
    render_cfg = job.loaded.scenario.render
    for view, beauty in zip([v for v in plan.views if v.image_index in indices], rendered):
        labels = labelled[view.image_index]
        with timed(stage, "labels"):
            meta = image_meta(job.seed, plan, view, job.dataset.image_path(view.image_index).name,
                              job.categories, labels.annotations, job.provenance, job.subset, labels.fates,
                              labels.visibility, labels.occlusion)
        with timed(stage, "sensor"):
            linear = warp_image(view.canvas(), beauty.rgb_linear)
            if beauty.alpha is not None:  # backplate: the objects and their shadows over the photo
                linear = composite(linear, beauty.alpha, beauty.shadow, job.photo_linear())
            linear = half_linear(linear)  # as linear/ keeps it, so develop reproduces this image exactly
            developed = develop_pixels(linear, view.sensor, view.lens, render_cfg, view.image_seed)
        with timed(stage, "write"):
            kept = linear if view.image_index in job.linear_for else None
            job.dataset.write_image(view.image_index, developed.rgb8, job.instance_maps.pop(view.image_index), meta,
                                    developed.jpeg_quality, kept)
            job.records[view.image_index] = coco_record(meta)
        anns = labels.annotations
        job.summary.rendered += 1
        job.summary.instances += len(anns)
        job.summary.visibility.extend(a["visib_fract"] for a in anns if "visib_fract" in a)
        if labels.occlusion is not None:
            job.summary.occlusion.append(labels.occlusion)
        if on_progress:
            on_progress(job.summary.rendered, len(anns))
    job.instance_maps.clear()  # views labelled only to check the occlusion target


class ViewLabels(NamedTuple):
    """One view's labels: its annotations, each instance's label fate, visibilities and the
    occlusion-target outcome (None without a target)."""

    annotations: list[dict[str, Any]]
    fates: dict[int, str]
    visibility: dict[int, Visibility]
    occlusion: dict[str, Any] | None


def _settle_scene(job: _Job, scene: int, indices: list[int]) -> tuple[ScenePlan, dict[int, ViewLabels]]:
    """Plan and label the scene; with an occlusion target, re-draw its objects until every view of
    the scene meets it (at most ``max_attempts`` draws; else the best draw), so the layout chosen
    does not depend on which of the scene's views this run renders. The chosen plan stays applied."""
    sc = job.loaded.scenario
    stage = job.summary.stage_seconds
    occ = sc.occlusion
    planned = indices if occ is None else \
        list(range(scene * sc.views_per_scene, (scene + 1) * sc.views_per_scene))
    chosen: tuple[int, int] | None = None  # (views meeting the target, attempt)
    for attempt in range(occ.max_attempts if occ else 1):
        with timed(stage, "plan"):
            plan = plan_scene(job.loaded, job.assets, job.session.info, job.seed, scene, planned, attempt)
        labelled = _label_views(job, plan, job.session.labels(plan, stage))
        if occ is None:
            return plan, labelled
        met = sum(labelled[v.image_index].occlusion["target_met"] for v in plan.views)
        if chosen is None or met > chosen[0]:
            chosen = (met, attempt)
        if met == len(plan.views) or attempt == occ.max_attempts - 1:
            break
        job.session.clear()
    tried = attempt + 1
    if chosen[1] != attempt:  # an earlier draw came closest: apply it again
        job.session.clear()
        plan = plan_scene(job.loaded, job.assets, job.session.info, job.seed, scene, planned, chosen[1])
        labelled = _label_views(job, plan, job.session.labels(plan, stage))
    for v in plan.views:
        labelled[v.image_index].occlusion["attempts"] = tried
    return plan, labelled


def _label_views(job: _Job, plan: ScenePlan, maps: list[LabelMaps]) -> dict[int, ViewLabels]:
    """Annotations, label fates, visibilities and occlusion outcome of each view's index maps; the
    output-image instance maps are kept in ``job.instance_maps`` for writing."""
    with timed(job.summary.stage_seconds, "labels"):
        return _labels_of(job, plan, maps)


def _labels_of(job: _Job, plan: ScenePlan, maps: list[LabelMaps]) -> dict[int, ViewLabels]:
    sc = job.loaded.scenario
    category_of = {o.instance_id: job.categories[o.category] for o in plan.objects if o.label != "background"}
    ignored = frozenset(o.instance_id for o in plan.objects if o.label == "ignore")
    target_groups = set(sc.occlusion_target_groups())
    targets = {o.instance_id for o in plan.objects if o.sampled["group"] in target_groups}
    out: dict[int, ViewLabels] = {}
    for view, label_maps in zip(plan.views, maps):
        canvas = view.canvas()
        instances = warp_labels(canvas, label_maps.instances)
        vis: dict[int, Visibility] = {}
        if sc.labels.amodal:
            vis = visibilities(canvas, amodal_canvas(canvas, sc.labels.amodal_margin), label_maps.amodal,
                               instances, sorted(category_of))
        anns, fate = annotations(instances, view.image_index, category_of, vis or None, sc.labels, ignored)
        occlusion = None
        if sc.occlusion is not None:
            occlusion = occlusion_outcome(sc.occlusion.target, {i: vis[i].visib_fract for i in targets if i in vis})
            occlusion["attempt"] = plan.attempt
        job.instance_maps[view.image_index] = instances
        out[view.image_index] = ViewLabels(anns, fate, vis, occlusion)
    return out
