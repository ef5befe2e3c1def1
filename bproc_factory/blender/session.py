"""A render session: one open scene in this process, reused for many scene plans.

Each scene plan is applied (objects, lights, world, camera poses), rendered in one Cycles call
for all its views, and removed again, so the .blend file is opened only once per process.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bproc_factory.blender.bootstrap import import_blenderproc, init_renderer

bproc = import_blenderproc(tempfile.gettempdir())  # each session points it at its own folder

import bpy  # noqa: E402  (after the bootstrap, which must import it first)
import cv2  # noqa: E402  (after the bootstrap, which enables OpenEXR in OpenCV)
from mathutils import Matrix  # noqa: E402

from bproc_factory.blender.console import stdout_to  # noqa: E402
from bproc_factory.blender.meshes import MeshLibrary  # noqa: E402
from bproc_factory.blender.scene import make_environment_background, open_scene, read_scene_info  # noqa: E402
from bproc_factory.camera import opencv_to_blender  # noqa: E402
from bproc_factory.config.scenario import RenderConfig  # noqa: E402
from bproc_factory.plan import LightPlan, ScenePlan  # noqa: E402
from bproc_factory.errors import RenderError  # noqa: E402
from bproc_factory.scene_info import SceneInfo  # noqa: E402

GENERATED_COLLECTION = "bpf_generated"
WORK_PREFIX = "bpf_render_"


@dataclass(frozen=True)
class RenderedView:
    """One rendered view: scene-linear RGB (float32, HxWx3) and the instance-id map (uint16)."""

    image_index: int
    rgb_linear: np.ndarray
    instances: np.ndarray


def versions() -> dict[str, str]:
    return {"blender": bpy.app.version_string, "blenderproc": bproc.__version__}


class RenderSession:
    """Owns the open scene, the render settings and the per-scene objects."""

    def __init__(self, scene_path: Path, render: RenderConfig, clip_m: tuple[float, float],
                 log_path: Path | None = None) -> None:
        self.scene_path = scene_path
        self._clip_m = clip_m
        remove_dead_work_dirs()
        self._work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}_"))
        self._log_path = log_path or self._work / "blender.log"
        try:
            import_blenderproc(str(self._work))
            with self.quiet():
                open_scene(scene_path)
                self.info: SceneInfo = read_scene_info(scene_path)
                make_environment_background()
                _use_factory_camera()
                _reset_frames()
                init_renderer()
                bproc.renderer.set_render_devices(use_only_cpu=True)
            self.device = "CPU"
            self._configure(render)
            self._meshes = MeshLibrary(self._work)
            self._collection = bpy.data.collections.new(GENERATED_COLLECTION)
            bpy.context.scene.collection.children.link(self._collection)
            self._world_defaults = self._world_state()
        except BaseException:
            self.close()
            raise

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

    def _configure(self, render: RenderConfig) -> None:
        scene = bpy.context.scene
        cycles = scene.cycles
        cycles.samples = render.samples
        cycles.use_adaptive_sampling = render.noise_threshold > 0
        if render.noise_threshold > 0:
            cycles.adaptive_threshold = render.noise_threshold
        cycles.use_denoising = render.denoiser == "oidn"
        if cycles.use_denoising:
            cycles.denoiser = "OPENIMAGEDENOISE"
            cycles.denoising_quality = "BALANCED"
            cycles.denoising_prefilter = "FAST"
        cycles.use_animated_seed = False
        cycles.max_bounces = render.max_bounces
        for name in ("diffuse_bounces", "glossy_bounces", "transmission_bounces", "volume_bounces"):
            setattr(cycles, name, min(getattr(cycles, name), render.max_bounces))
        cycles.transparent_max_bounces = max(8, render.max_bounces)
        scene.render.film_transparent = False
        scene.render.use_motion_blur = False
        scene.render.threads_mode = "AUTO"
        # Persistent data lets Cycles refit the previous scene's BVH, so an image's pixels would
        # depend on which scenes this process rendered before it; rebuild per render instead.
        scene.render.use_persistent_data = False
        bproc.renderer.set_output_format(file_format="OPEN_EXR", color_depth=32)
        scene.render.image_settings.color_mode = "RGB"
        scene.render.image_settings.exr_codec = "ZIP"
        view_layer = bpy.context.view_layer
        view_layer.use_pass_object_index = True
        view_layer.pass_alpha_threshold = render.pass_alpha_threshold
        scene.use_nodes = True
        tree = scene.node_tree
        layers = next(n for n in tree.nodes if n.bl_idname == "CompositorNodeRLayers")
        out = tree.nodes.new("CompositorNodeOutputFile")
        out.base_path = str(self._work)
        out.format.file_format = "OPEN_EXR"
        out.format.color_depth = "32"
        out.format.color_mode = "RGB"
        out.file_slots[0].path = "index_"
        # A lone float input is written as a one-channel EXR, which OpenCV cannot read: copy the
        # index into R, G and B (exact for integers below 2**24 in float32).
        combine = tree.nodes.new("CompositorNodeCombineColor")
        combine.mode = "RGB"
        for channel in ("Red", "Green", "Blue"):
            tree.links.new(layers.outputs["IndexOB"], combine.inputs[channel])
        tree.links.new(combine.outputs["Image"], out.inputs[0])

    def _world_state(self) -> tuple[list[float], float] | None:
        world = bpy.context.scene.world
        node = world.node_tree.nodes.get("Background") if world and world.use_nodes else None
        if node is None:
            return None
        return list(node.inputs["Color"].default_value), float(node.inputs["Strength"].default_value)

    def render(self, plan: ScenePlan, seconds: dict[str, float]) -> list[RenderedView]:
        """Apply ``plan``, render all its views in one Cycles call, and clear the scene again.

        Adds the wall time of the ``apply`` and ``render`` steps to ``seconds``.
        """
        try:
            t = time.perf_counter()
            with self.quiet():
                self._apply(plan)
            seconds["apply"] += time.perf_counter() - t
            t = time.perf_counter()
            with self.quiet():
                bproc.renderer.render(output_dir=str(self._work), file_prefix="rgb_",
                                      return_data=False, verbose=True)
            views = [self._read(frame, view.image_index) for frame, view in enumerate(plan.views)]
            seconds["render"] += time.perf_counter() - t
            return views
        except Exception as exc:
            raise RenderError(f"scene {plan.scene_index}: rendering failed: {exc}\n"
                              f"last Blender output:\n{self._log_tail()}") from exc
        finally:
            t = time.perf_counter()
            self._clear()
            seconds["apply"] += time.perf_counter() - t

    def _apply(self, plan: ScenePlan) -> None:
        for obj in plan.objects:
            mesh_obj = bproc.object.create_from_blender_mesh(self._meshes.mesh(obj.asset),
                                                             f"bpf_{obj.instance_id:04d}_{obj.asset.name}")
            blender_obj = mesh_obj.blender_obj
            bpy.context.collection.objects.unlink(blender_obj)
            self._collection.objects.link(blender_obj)
            mesh_obj.set_local2world_mat(Matrix(obj.obj_to_world.tolist()))
            blender_obj.pass_index = obj.instance_id
        for k, light in enumerate(plan.lights):
            self._add_light(k, light)
        self._apply_world(plan.world)
        bpy.context.scene.cycles.seed = plan.cycles_seed
        first = plan.views[0]  # intrinsics are per config, so shared by the views of a scene
        bproc.camera.set_intrinsics_from_K_matrix(first.K, first.width, first.height, *self._clip_m)
        for frame, view in enumerate(plan.views):
            bproc.camera.add_camera_pose(opencv_to_blender(view.cam_to_world).tolist(), frame=frame)
        _unit_scale(bpy.context.scene.camera)

    def _add_light(self, k: int, plan: LightPlan) -> None:
        light = bproc.types.Light(light_type=plan.type.upper(), name=f"bpf_light_{k}")
        light.set_energy(plan.energy_w)
        light.set_color(list(plan.color_rgb))
        light.set_local2world_mat(Matrix(plan.light_to_world.tolist()))
        data = light.blender_obj.data
        if plan.type == "sun":
            data.angle = np.radians(plan.sampled["sun_angle_deg"])
        elif plan.type == "area":
            data.size = plan.sampled["size_m"]
        else:
            data.shadow_soft_size = plan.sampled["size_m"]
        if plan.type == "spot":
            data.spot_size = np.radians(plan.sampled["spot_angle_deg"])
        bpy.context.collection.objects.unlink(light.blender_obj)
        self._collection.objects.link(light.blender_obj)

    def _apply_world(self, world: dict) -> None:
        """Set the world colour (replacing any texture linked to it) and strength when planned."""
        if not world:
            return
        if self._world_defaults is None:
            bproc.renderer.set_world_background([0.05, 0.05, 0.05])
            self._world_defaults = self._world_state()
        background = bpy.context.scene.world.node_tree.nodes["Background"]
        if "color" in world:
            bproc.renderer.set_world_background(list(world["color"]), background.inputs["Strength"]
                                                .default_value)
        if "strength" in world:
            background.inputs["Strength"].default_value = world["strength"]

    def _read(self, frame: int, image_index: int) -> RenderedView:
        rgb_path = self._work / f"rgb_{frame:04d}.exr"
        index_path = self._work / f"index_{frame:04d}.exr"
        rgb = cv2.imread(str(rgb_path), cv2.IMREAD_UNCHANGED)
        index = cv2.imread(str(index_path), cv2.IMREAD_UNCHANGED)
        if rgb is None or index is None:
            raise RuntimeError(f"Blender wrote no readable output for image {image_index}")
        rgb_path.unlink()
        index_path.unlink()
        if index.ndim == 3:
            index = index[..., 0]
        instances = np.rint(index).astype(np.uint16)
        if not np.array_equal(instances, index):
            raise RuntimeError(f"image {image_index}: the object-index pass holds non-integer values")
        return RenderedView(image_index=image_index, rgb_linear=rgb[..., ::-1].astype(np.float32),
                            instances=instances)

    def _clear(self) -> None:
        for obj in list(self._collection.all_objects):
            data = obj.data
            bpy.data.objects.remove(obj, do_unlink=True)
            if isinstance(data, bpy.types.Light):
                bpy.data.lights.remove(data)
        _reset_frames()
        if self._world_defaults is not None:
            background = bpy.context.scene.world.node_tree.nodes["Background"]
            background.inputs["Color"].default_value = self._world_defaults[0]
            background.inputs["Strength"].default_value = self._world_defaults[1]


def _use_factory_camera() -> None:
    """Render through a new plain perspective camera: a designer's camera may carry a parent,
    constraints, depth of field or another rotation mode, any of which would break K and pose."""
    scene = bpy.context.scene
    cam = bpy.data.objects.new("bpf_camera", bpy.data.cameras.new("bpf_camera"))
    scene.collection.objects.link(cam)
    scene.camera = cam


def remove_dead_work_dirs() -> None:
    """Delete work folders of sessions whose process is gone (killed runs cannot clean up)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{WORK_PREFIX}*_*"):
        pid = folder.name[len(WORK_PREFIX):].split("_", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unit_scale(obj: bpy.types.Object) -> None:
    """Reset the camera's unkeyed scale to exactly 1: decomposing the last pose's matrix leaves it a
    few ulps off, which would make a view's pixels depend on the other views in its render call."""
    obj.scale = (1.0, 1.0, 1.0)


def _reset_frames() -> None:
    """Forget the previous scene's camera poses; frames start at 0 (BlenderProc's convention)."""
    bpy.context.scene.camera.animation_data_clear()
    bpy.context.scene.frame_start = 0
    bpy.context.scene.frame_end = 0
