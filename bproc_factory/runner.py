"""The render job: config -> plan -> apply/render (bpy) -> labels -> atomic writes, resumable.

Only ``RenderSession`` touches Blender; it is imported when there is something to render.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from bproc_factory import __version__
from bproc_factory.assets import Asset, resolve_assets
from bproc_factory.backplate import scene_sha256
from bproc_factory.categories import category_ids
from bproc_factory.config.loader import LoadedScenario, load_scenario
from bproc_factory.datasheet import write_datasheet
from bproc_factory.distortion import warp_image, warp_labels
from bproc_factory.dataset import Dataset, coco_record
from bproc_factory.errors import Stopped
from bproc_factory.fit import check_fit
from bproc_factory.labels import annotations
from bproc_factory.meta import image_meta
from bproc_factory.plan import group_by_scene, plan_scene, plan_view
from bproc_factory.seeding import rng_for
from bproc_factory.sensor.lens import apply_lens
from bproc_factory.sensor.pipeline import apply_sensor, srgb_decode

STAGES = ("plan", "apply", "label_pass", "beauty_pass", "labels", "sensor", "write")
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
    session: Any = None  # blender.session.RenderSession, imported lazily
    provenance: dict[str, Any] = field(default_factory=dict)
    last_coco_write: float = float("-inf")
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


def render_dataset(config: Path, output: Path, count: int, start: int = 0, seed: int = 0,
                   overrides: tuple[str, ...] = (), on_progress: ProgressFn | None = None,
                   on_total: Callable[[int], None] | None = None,
                   stop_requested: Callable[[], str | None] = lambda: None,
                   subset: dict[str, Any] | None = None) -> RunSummary:
    """Render images ``start .. start+count-1`` of the run (config, seed) into ``output``.

    Complete images already in ``output`` are skipped. ``coco.json`` is rewritten from the
    per-image records after scenes (at most every ``COCO_WRITE_INTERVAL_S``) and at the end.
    ``stop_requested`` is polled between scenes; a reason it returns ends the run with ``Stopped``.
    ``subset`` (a sweep's subset name and values) is recorded in every image's meta.
    """
    t0 = time.perf_counter()
    loaded = load_scenario(config, overrides)
    sc = loaded.scenario
    assets = resolve_assets(loaded)
    categories = category_ids(loaded, assets)
    identity = {"config_sha256": loaded.sha256, "run_seed": seed, "categories": categories,
                "image_suffix": f".{sc.render.image_format}",
                "inputs": {"scene": scene_sha256(loaded.resolve(sc.scene)),
                           "assets": {a.name: a.sha256 for group in assets for a in group}},
                "config": sc.model_dump(mode="json"), "config_path": str(loaded.path),
                "asset_info": {a.name: {"category": a.category, "source": a.spec.source,
                                        "license": a.spec.license, "folder": str(a.folder)}
                               for group in assets for a in group}}
    dataset = Dataset(output, image_suffix=identity["image_suffix"])
    dataset.check_writable()
    dataset.remove_stale_temp_files()
    records, broken = dataset.load_records()
    requested = range(start, start + count)
    todo = [i for i in requested if i not in records]
    summary = RunSummary(output=dataset.root, requested=count, skipped=count - len(todo))
    summary.warnings += [f"{p}: unreadable meta file; the image is re-rendered if requested, and "
                         "left out of coco.json otherwise" for p in broken]
    job = _Job(loaded, assets, dataset, seed, categories, identity, records, summary, subset)
    if on_total:
        on_total(len(todo))
    try:
        _start(job, todo[0] if todo else None)
        summary.setup_seconds = time.perf_counter() - t0
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
            from bproc_factory.blender.session import RenderSession, versions

            sc = job.loaded.scenario
            job.session = RenderSession(job.loaded.resolve(sc.scene), sc)
            check_fit(job.loaded, job.assets, job.session.info)
            plan_view(job.loaded, job.session.info, job.seed, first)  # an unrenderable lens fails here
            job.summary.device = job.session.device
            job.provenance = {"config_sha256": job.loaded.sha256, "bproc_factory": __version__,
                              **versions(), "render_device": job.session.device}
        job.identity = job.dataset.claim(job.identity)
    except BaseException:
        job.dataset.discard_if_unused()  # a refused run leaves no empty dataset folder behind
        raise


def _render_scene(job: _Job, scene: int, indices: list[int], on_progress: ProgressFn | None) -> None:
    stage = job.summary.stage_seconds
    t = time.perf_counter()
    plan = plan_scene(job.loaded, job.assets, job.session.info, job.seed, scene, indices)
    stage["plan"] += time.perf_counter() - t
    views = job.session.render(plan, stage)
    category_of = {o.instance_id: job.categories[o.category] for o in plan.objects}
    render_cfg = job.loaded.scenario.render
    for view, rendered in zip(plan.views, views):
        t = time.perf_counter()
        canvas = view.canvas()
        instances = warp_labels(canvas, rendered.instances)
        anns = annotations(instances, view.image_index, category_of)
        meta = image_meta(job.seed, plan, view, job.dataset.image_path(view.image_index).name,
                          job.categories, anns, job.provenance, job.subset)
        stage["labels"] += time.perf_counter() - t
        t = time.perf_counter()
        linear = warp_image(canvas, rendered.rgb_linear)
        if rendered.alpha is not None:  # backplate: the objects and their shadows over the photo
            linear = composite(linear, rendered.alpha, rendered.shadow, job.photo_linear())
        linear = apply_lens(linear, view.lens)
        sensor, quality = view.sensor, render_cfg.jpeg_quality
        if render_cfg.image_format == "jpg" and "jpeg_quality" in sensor:
            # the file itself is the camera's JPEG: encode once, at the sampled quality
            sensor = {k: v for k, v in sensor.items() if k != "jpeg_quality"}
            quality = view.sensor["jpeg_quality"]
        rgb8 = apply_sensor(linear, sensor, rng_for(view.image_seed, "sensor_noise"))
        stage["sensor"] += time.perf_counter() - t
        t = time.perf_counter()
        job.dataset.write_image(view.image_index, rgb8, instances, meta, quality)
        job.records[view.image_index] = coco_record(meta)
        stage["write"] += time.perf_counter() - t
        job.summary.rendered += 1
        job.summary.instances += len(anns)
        if on_progress:
            on_progress(job.summary.rendered, len(anns))
