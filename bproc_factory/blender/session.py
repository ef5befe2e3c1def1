"""A render session: one open scene in this process, reused for many scene plans.

Each scene plan is applied (objects, lights, world), its views are keyed as frames and rendered
in one label pass and one beauty pass per render canvas, and everything is removed again, so the
.blend file is opened only once per process.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bproc_factory.blender.bootstrap import import_blenderproc, init_renderer

bproc = import_blenderproc(tempfile.gettempdir())  # each session points it at its own folder

import bpy  # noqa: E402  (after the bootstrap, which must import it first)
import cv2  # noqa: E402  (after the bootstrap, which enables OpenEXR in OpenCV)
from mathutils import Matrix  # noqa: E402

from bproc_factory.assets import SceneInfo  # noqa: E402
from bproc_factory.blender import animation, passes  # noqa: E402
from bproc_factory.blender.billboards import CardLibrary, key_cards  # noqa: E402
from bproc_factory.blender.camera import factory_camera, set_intrinsics  # noqa: E402
from bproc_factory.blender.console import stdout_to  # noqa: E402
from bproc_factory.blender.devices import use_device  # noqa: E402
from bproc_factory.blender.lights import add_light  # noqa: E402
from bproc_factory.blender.meshes import MeshLibrary  # noqa: E402
from bproc_factory.blender.objects import add_object  # noqa: E402
from bproc_factory.blender.world import Environment  # noqa: E402
from bproc_factory.config import Scenario  # noqa: E402
from bproc_factory.dataset import process_alive  # noqa: E402
from bproc_factory.errors import RenderError  # noqa: E402
from bproc_factory.labels import amodal_canvas, frame_groups  # noqa: E402
from bproc_factory.plan import ScenePlan, ViewPlan  # noqa: E402
from bproc_factory.timing import timed  # noqa: E402

_STORAGE_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}  # a full disk, file size limit or quota

GENERATED_COLLECTION = "bpf_generated"
WORK_PREFIX = "bpf_render_"


@dataclass(frozen=True)
class LabelMaps:
    """One view's index maps: the label pass's on the label canvas (uint16) and, with amodal
    labels, the amodal pass's frames on the grown canvas (each shows some objects alone)."""

    image_index: int
    instances: np.ndarray
    amodal: list[np.ndarray]


@dataclass(frozen=True)
class RenderedView:
    """One rendered view on its render canvas: scene-linear RGB (float32, HxWx3); for backplates
    also the beauty pass's alpha (HxW) and shadow-catcher factor (HxWx3), to composite over the photo."""

    image_index: int
    rgb_linear: np.ndarray
    alpha: np.ndarray | None = None
    shadow: np.ndarray | None = None


def versions() -> dict[str, str]:
    return {"blender": bpy.app.version_string, "blenderproc": bproc.__version__}


class RenderSession:
    """Owns the open environment, the render settings and the per-scene objects."""

    def __init__(self, scene_path: Path, scenario: Scenario, log_path: Path | None = None,
                 device: str = "auto") -> None:
        self.scene_path = scene_path
        self._requested_device = device
        self._scenario = scenario
        self._render = scenario.render
        self._camera_cfg = scenario.camera_or_default
        remove_dead_work_dirs()
        self._work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}_"))
        self._log_path = log_path or self._work / "blender.log"
        try:
            import_blenderproc(str(self._work))
            self._load()
            self._meshes = MeshLibrary(self._work)
            self._cards = CardLibrary(self._work)
            self._objects: dict[int, bpy.types.Object] = {}
            self._materials: list[bpy.types.Material] = []
        except BaseException:
            self.close()
            raise

    def _load(self) -> None:
        """Open (or build) the environment and set it up for rendering."""
        with self.quiet():
            self.environment = Environment(self.scene_path)
            self.info: SceneInfo = self.environment.info
            self._camera = factory_camera()
            init_renderer()
            self.device = use_device(self._requested_device)
        self._outputs = passes.setup_outputs(self._work, self._render, self.environment.backplate)
        self._collection = bpy.data.collections.new(GENERATED_COLLECTION)
        bpy.context.scene.collection.children.link(self._collection)

    def close(self) -> None:
        shutil.rmtree(self._work, ignore_errors=True)

    def quiet(self):
        """Send Blender's console output to this session's log file."""
        return stdout_to(self._log_path)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def labels(self, plan: ScenePlan, seconds: dict[str, float]) -> list[LabelMaps]:
        """Apply ``plan`` and render the label pass (and amodal pass) of all its views. The scene
        stays applied for ``beauty`` until ``clear``. Adds the wall time of the ``apply``,
        ``label_pass`` and ``amodal_pass`` steps to ``seconds``."""
        with self._failure(plan):
            with timed(seconds, "apply"):
                if self._scenario.scene_reload:
                    self._meshes = MeshLibrary(self._work)  # datablocks go with the old file
                    self._cards = CardLibrary(self._work)
                    self._load()
                with self.quiet():
                    self._objects = self._apply(plan)
            maps: dict[int, LabelMaps] = {}
            for views in _canvas_groups(plan.views):
                with timed(seconds, "label_pass"), self.quiet():
                    self._key(plan, views, self._objects)
                    index = self._label_pass(views)
                amodal = [[] for _ in views]
                with timed(seconds, "amodal_pass"):
                    if self._scenario.labels.amodal:
                        with self.quiet():
                            amodal = self._amodal_pass(plan, views)
                for view, ids, frames in zip(views, index, amodal):
                    maps[view.image_index] = LabelMaps(view.image_index, ids, frames)
            return [maps[v.image_index] for v in plan.views]

    def beauty(self, plan: ScenePlan, seconds: dict[str, float], indices: set[int] | None = None) -> list[RenderedView]:
        """The beauty pass of the applied plan's views (those in ``indices``, default all)."""
        with self._failure(plan):
            views = [v for v in plan.views if indices is None or v.image_index in indices]
            rendered: dict[int, RenderedView] = {}
            for group in _canvas_groups(tuple(views)):
                with timed(seconds, "beauty_pass"), self.quiet():
                    self._key(plan, group, self._objects)
                    beauty = self._beauty_pass(group)
                for view, (rgb, alpha, shadow) in zip(group, beauty):
                    rendered[view.image_index] = RenderedView(view.image_index, rgb, alpha, shadow)
            return [rendered[v.image_index] for v in views]

    @contextlib.contextmanager
    def _failure(self, plan: ScenePlan):
        """Turn any failure into a ``RenderError`` naming the scene, with the end of Blender's log."""
        try:
            yield
        except Exception as exc:
            if isinstance(exc, OSError) and exc.errno in _STORAGE_FULL:  # said plainly: the log adds nothing
                raise RenderError(f"scene {plan.scene_index}: {exc.strerror} while writing "
                                  f"{exc.filename or 'its render passes'}: free space (or raise the quota) "
                                  "and re-run the same command; finished images are kept") from exc
            raise RenderError(f"scene {plan.scene_index}: rendering failed: {exc}\n"
                              f"last Blender output:\n{self._log_tail()}") from exc

    def _apply(self, plan: ScenePlan) -> dict[int, bpy.types.Object]:
        """Mirror the plan in Blender: objects, lights, world; the Cycles seed."""
        objects = {obj.instance_id: add_object(obj, self._meshes, self._cards, self._collection, self._materials)
                   for obj in plan.objects}
        for k, light in enumerate(plan.lights):
            add_light(self._collection, k, light)
        self.environment.apply(plan.world, plan.surfaces, plan.scene_lights)
        bpy.context.scene.cycles.seed = plan.cycles_seed
        return objects

    def _key(self, plan: ScenePlan, views: list[ViewPlan], objects: dict[int, bpy.types.Object]) -> None:
        """Keys for the group's views (and moving objects)."""
        animation.clear_keys(self._camera, list(objects.values()))
        animation.key_views(self._camera, views)
        animation.key_object_motion(objects, plan.objects, views)
        key_cards(self._cards, objects, plan.objects,
                  [(animation.frame_of(k), v.cam_to_world) for k, v in enumerate(views)])

    def _label_pass(self, views: list[ViewPlan]) -> list[np.ndarray]:
        """Index maps of the keyed views from the label pass."""
        set_intrinsics(self._camera, self._camera_cfg, views, label=True)
        passes.label_pass(self._outputs)
        bproc.renderer.render(output_dir=str(self._work), file_prefix=passes.LABEL_PREFIX, return_data=False,
                              verbose=True, output_key=None)
        return [self._read_label_frame(k, view.image_index) for k, view in enumerate(views)]

    def _read_label_frame(self, k: int, image_index: int) -> np.ndarray:
        """The index map of keyed frame ``k`` of a label pass; its files are deleted once read."""
        frame = animation.frame_of(k)
        index = _read_index(self._work / f"{passes.INDEX_PREFIX}{frame:04d}.exr", image_index)
        (self._work / f"{passes.LABEL_PREFIX}{frame:04d}.exr").unlink(missing_ok=True)
        return index

    def _amodal_pass(self, plan: ScenePlan, views: list[ViewPlan]) -> list[list[np.ndarray]]:
        """Index maps of the amodal frames of the keyed views: the environment hidden, and in each
        frame only objects that cannot overlap on screen (see ``bproc_factory.labels.amodal``)."""
        grown = amodal_canvas(views[0].canvas(), self._scenario.labels.amodal_margin)
        hulls = {o.instance_id: o.hull_world for o in plan.objects if o.label != "background"}
        frames = [(view, shown) for view in views for shown in frame_groups(hulls, view.K, view.cam_to_world)]
        if not frames:
            return [[] for _ in views]
        animation.clear_keys(self._camera, list(self._objects.values()))
        for obj in plan.objects:
            self._objects[obj.instance_id].matrix_world = Matrix(obj.obj_to_world.tolist())
        animation.key_amodal_frames(self._camera, self._objects, frames)
        key_cards(self._cards, self._objects, plan.objects,
                  [(animation.frame_of(k), view.cam_to_world) for k, (view, _) in enumerate(frames)])
        hidden = [o for o in bpy.context.scene.objects
                  if not o.hide_render and o.name not in self._collection.all_objects and o != self._camera]
        for obj in hidden:
            obj.hide_render = True
        try:
            passes.label_pass(self._outputs)
            bproc.camera.set_intrinsics_from_K_matrix(grown.K, grown.width, grown.height, *self._camera_cfg.clip_m)
            bproc.renderer.render(output_dir=str(self._work), file_prefix=passes.LABEL_PREFIX, return_data=False,
                                  verbose=True, output_key=None)
        finally:
            for obj in hidden:
                obj.hide_render = False
            animation.clear_keys(self._camera, list(self._objects.values()))
            for obj in self._objects.values():
                obj.hide_render = False
        out: dict[int, list[np.ndarray]] = {v.image_index: [] for v in views}
        for k, (view, _) in enumerate(frames):
            out[view.image_index].append(self._read_label_frame(k, view.image_index))
        return [out[v.image_index] for v in views]

    def _beauty_pass(self, views: list[ViewPlan]) -> list[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]:
        """Linear RGB (and, for backplates, alpha and the shadow-catcher factor) of the keyed views."""
        set_intrinsics(self._camera, self._camera_cfg, views, label=False)
        passes.beauty_pass(self._outputs, self._render, dof=views[0].dof is not None,
                           motion_blur=views[0].motion is not None)
        bproc.renderer.render(output_dir=str(self._work), file_prefix=passes.RGB_PREFIX, return_data=False,
                              verbose=True, output_key="colors")
        out = []
        for k, view in enumerate(views):
            frame = animation.frame_of(k)
            rgba = _read_exr(self._work / f"{passes.RGB_PREFIX}{frame:04d}.exr", view.image_index)
            alpha = shadow = None
            if self.environment.backplate:
                alpha = rgba[..., 3]
                shadow = _read_exr(self._work / f"{passes.SHADOW_PREFIX}{frame:04d}.exr", view.image_index)[..., :3]
            out.append((rgba[..., :3], alpha, shadow))
        return out

    def clear(self) -> None:
        """Remove the applied plan's objects, lights and materials and reset the environment."""
        self._objects = {}
        objects = list(self._collection.all_objects)
        animation.clear_keys(self._camera, [])
        for obj in objects:
            data = obj.data
            bpy.data.objects.remove(obj, do_unlink=True)
            if isinstance(data, bpy.types.Light):
                bpy.data.lights.remove(data)
        for material in self._materials:
            bpy.data.materials.remove(material)
        self._materials.clear()
        self.environment.reset()


def _canvas_groups(views: tuple[ViewPlan, ...]) -> list[list[ViewPlan]]:
    """Views grouped by identical render canvas (intrinsics and size), in order of first appearance."""
    groups: dict[tuple, list[ViewPlan]] = {}
    for view in views:
        canvas = view.canvas()
        groups.setdefault((canvas.K.tobytes(), canvas.width, canvas.height), []).append(view)
    return list(groups.values())


def _read_exr(path: Path, image_index: int) -> np.ndarray:
    """A float EXR as RGB(A) (OpenCV reads BGR(A)), deleted once read."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise RuntimeError(f"Blender wrote no readable {path.name} for image {image_index}")
    path.unlink()
    order = [2, 1, 0, 3][:image.shape[2]] if image.ndim == 3 else slice(None)
    return image[..., order].astype(np.float32)


def _read_index(path: Path, image_index: int) -> np.ndarray:
    index = _read_exr(path, image_index)
    if index.ndim == 3:
        index = index[..., 0]
    instances = np.rint(index).astype(np.uint16)
    if not np.array_equal(instances, index):
        raise RuntimeError(f"image {image_index}: the object-index pass holds non-integer values")
    return instances


def remove_dead_work_dirs() -> None:
    """Delete work folders of sessions whose process is gone (killed runs cannot clean up)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{WORK_PREFIX}*_*"):
        pid = folder.name[len(WORK_PREFIX):].split("_", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
