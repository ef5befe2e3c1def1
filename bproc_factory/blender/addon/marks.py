"""Marking objects for the factory: link them into the conventional ``bpf_*`` collections and back.

The collections are the whole contract (scenes/README.md), so a file marked here reads the same
without the add-on. Their names repeat ``bproc_factory.blender.scene``'s (a test keeps them equal):
the add-on runs on Blender's own Python and never imports the factory.
"""
from __future__ import annotations

from dataclasses import dataclass

import bpy


@dataclass(frozen=True)
class Role:
    """One kind of mark: its collection, its label in the panel, and which objects may carry it."""

    key: str
    collection: str
    label: str
    description: str
    kinds: tuple[str, ...] = ()  # object types allowed; () allows any
    needs_material: bool = False
    single: bool = False  # at most one object holds the mark


ROLES: tuple[Role, ...] = (
    Role("placement", "bpf_placement", "Placement area", "meshes whose upward faces objects may stand on",
         ("MESH",)),
    Role("camera_target", "bpf_camera_target", "Camera target", "the one object the camera looks at",
         single=True),
    Role("camera_region", "bpf_camera_region", "Camera region",
         "closed meshes the camera must stay inside (shown as wire, hidden from renders)", ("MESH",)),
    Role("occluders", "bpf_occluders", "Occluder", "scenery in front of the objects"),
    Role("props", "bpf_props", "Prop", "other static scenery worth naming"),
    Role("lights", "bpf_lights", "Randomisable light", "lights whose energy and colour the factory varies",
         ("LIGHT",)),
    Role("materials", "bpf_materials", "Swappable surface", "meshes whose material the factory may swap",
         ("MESH",), needs_material=True),
)
BY_KEY = {role.key: role for role in ROLES}
SAVED_DISPLAY = "bpf_saved_display"  # a camera region's own display settings, restored by unmark


class MarkError(Exception):
    """A mark that cannot be made; the message names the objects and says why."""


def _problem(role: Role, obj: bpy.types.Object) -> str | None:
    if role.kinds and obj.type not in role.kinds:
        wanted = " or ".join(k.lower() for k in role.kinds)
        return f"'{obj.name}' is a {obj.type.lower()}, not a {wanted}"
    if role.needs_material and not obj.material_slots:
        return f"'{obj.name}' has no material slot (give it a material first)"
    return None


def _in_scene(collection: bpy.types.Collection, scene: bpy.types.Scene) -> bool:
    return collection in scene.collection.children_recursive


def mark(objects: list[bpy.types.Object], role_key: str, scene: bpy.types.Scene) -> int:
    """Link ``objects`` into the role's collection (created and linked to the scene if missing); an
    object keeps its other collections. Checks every object first: nothing changes on an error.
    A camera target replaces the previous one. Returns how many objects were newly marked."""
    role = BY_KEY[role_key]
    if not objects:
        raise MarkError("select the objects to mark first")
    problems = [p for p in (_problem(role, o) for o in objects) if p]
    if problems:
        raise MarkError(f"{role.label}: " + "; ".join(problems))
    if role.single and len(objects) > 1:
        raise MarkError(f"{role.label}: select exactly one object ({len(objects)} are selected)")
    old = bpy.data.collections.get(role.collection)
    if role.single and old is not None:
        unmark([o for o in old.all_objects if o not in objects], role_key, scene)
    collection = bpy.data.collections.get(role.collection) or bpy.data.collections.new(role.collection)
    if not _in_scene(collection, scene):
        scene.collection.children.link(collection)
    added = 0
    for obj in objects:
        if obj.name not in collection.objects:
            collection.objects.link(obj)
            added += 1
        if role.key == "camera_region" and SAVED_DISPLAY not in obj:
            obj[SAVED_DISPLAY] = {"display_type": obj.display_type, "hide_render": int(obj.hide_render)}
            obj.display_type, obj.hide_render = "WIRE", True
    return added


def unmark(objects: list[bpy.types.Object], role_key: str | None, scene: bpy.types.Scene) -> int:
    """Take ``objects`` out of one role's collection (``None``: every role's), restoring what ``mark``
    changed; an object left in no collection goes to the scene's own, and an emptied ``bpf_*``
    collection is removed. Returns how many marks were taken off."""
    removed = 0
    for role in ROLES if role_key is None else (BY_KEY[role_key],):
        collection = bpy.data.collections.get(role.collection)
        if collection is None:
            continue
        holders = [collection, *collection.children_recursive]
        for obj in objects:
            for holder in holders:
                if obj.name not in holder.objects:
                    continue
                if len(obj.users_collection) == 1:
                    scene.collection.objects.link(obj)
                holder.objects.unlink(obj)
                removed += 1
            if role.key == "camera_region" and SAVED_DISPLAY in obj:
                saved = obj[SAVED_DISPLAY]
                obj.display_type, obj.hide_render = saved["display_type"], bool(saved["hide_render"])
                del obj[SAVED_DISPLAY]
        if not collection.all_objects and not collection.children:
            bpy.data.collections.remove(collection)
    return removed


def roles_of(obj: bpy.types.Object) -> list[Role]:
    """The marks ``obj`` carries, directly or through a child collection."""
    return [role for role in ROLES
            if (c := bpy.data.collections.get(role.collection)) is not None and obj.name in c.all_objects]
