"""Asset folders: ``asset.yaml`` + a mesh file (OBJ/GLB/PLY), loaded as pure data for planning.

The canonical asset frame is Z-up, metres, origin at the centre of the bottom of the bounding box;
``canonical_from_file`` maps the mesh file's own coordinates into it (axis conversion + scale).
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import trimesh
from pydantic import Field, model_validator

from bproc_factory.assets.materials import Finish, resolve_material
from bproc_factory.config import ConfigError, LoadedScenario, StrictModel, read_yaml, validate

MESH_SUFFIXES = (".obj", ".glb", ".gltf", ".ply")
_DEFAULT_UP = {".obj": "y", ".glb": "y", ".gltf": "y", ".ply": "z"}
# Rotations taking the file's up axis to +Z (Y-up files: the usual X +90 degrees).
_UP_TO_Z = {
    "z": np.eye(3),
    "y": np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]),
    "x": np.array([[0.0, 0, -1], [0, 1, 0], [1, 0, 0]]),
}


class AssetSpec(StrictModel):
    """The contents of ``asset.yaml``."""

    name: str = Field(min_length=1)
    category: str = Field(min_length=1)
    mesh: str | None = Field(default=None, description="mesh file; may be absent for a billboard-only "
                                                       "asset made by ingest")
    up_axis: Literal["x", "y", "z"] | None = Field(
        default=None, description="file axis pointing up; default y for OBJ/glTF, z for PLY")
    scale: float | None = Field(default=None, gt=0, description="file units to metres")
    height_m: float | None = Field(default=None, gt=0, description="real height; sets the scale")
    source: str | None = None
    license: str | None = None
    material: str | None = Field(default=None, description="a library material (or a YAML path, relative to the "
                                 "asset) replacing the mesh's own, unless the object group names materials")
    finish: Finish | None = Field(default=None, description="optical values (metallic, roughness, anisotropic, coat, "
                                  "coat_roughness, transmission, ior, subsurface) laid over the mesh's own "
                                  "materials, keeping their colours and textures")
    capture: dict[str, Any] | None = Field(
        default=None, description="written by bproc-factory ingest: source video hash, segmenter, cameras, "
                                  "views (frame, angle, mask confidence, crop box), dropped frames, mesh quality")

    @model_validator(mode="after")
    def _one_size(self) -> "AssetSpec":
        if self.mesh is None:
            if not (self.capture or {}).get("billboard"):
                raise ValueError("mesh: missing (only an ingested asset with billboard cards may lack a mesh)")
            return self
        if (self.scale is None) == (self.height_m is None):
            raise ValueError("give exactly one of 'scale' (file units to metres) or 'height_m'")
        if not self.mesh.lower().endswith(MESH_SUFFIXES):
            raise ValueError(f"mesh: '{self.mesh}' is not one of {', '.join(MESH_SUFFIXES)}")
        return self


@dataclass(frozen=True)
class BillboardCard:
    """One captured view as an upright card (ingest's ``billboard/`` images)."""

    path: Path
    angle_deg: float  # azimuth of the capture camera around the object
    elevation_deg: float | None
    offset_m: float = 0.0  # the card plane's distance from the axis towards that camera


@dataclass(frozen=True)
class Billboard:
    """Cards that turn about the object's vertical axis, each ``offset_m`` in front of it: ``half_width_m``
    either side of the card's centre line, ``height_m`` tall, standing on z = 0."""

    half_width_m: float
    height_m: float
    cards: tuple[BillboardCard, ...]

    def nearest(self, azimuth_deg: float, elevation_deg: float | None = None) -> int:
        """The card captured closest to a camera at this azimuth (and elevation, when the capture
        has several rings) around the object."""
        def cost(card: BillboardCard) -> float:
            d = abs((card.angle_deg - azimuth_deg + 180.0) % 360.0 - 180.0)
            if elevation_deg is not None and card.elevation_deg is not None:
                d += abs(card.elevation_deg - elevation_deg)
            return d
        return min(range(len(self.cards)), key=lambda k: cost(self.cards[k]))

    def facing(self, obj_to_world: np.ndarray, cam_to_world: np.ndarray) -> tuple[np.ndarray, int]:
        """The card's world matrix turned about the object's vertical axis so its front (-y) faces
        the camera, moved by the card's offset towards it, and the index of the card to show."""
        centre = np.linalg.inv(obj_to_world) @ np.append(cam_to_world[:3, 3], 1.0)
        azimuth = float(np.degrees(np.arctan2(centre[1], centre[0])))
        elevation = float(np.degrees(np.arctan2(centre[2], np.hypot(centre[0], centre[1]))))
        a = np.radians(azimuth + 90.0)
        turn = np.eye(4)
        turn[:2, :2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
        card = self.nearest(azimuth % 360.0, elevation)
        forward = np.eye(4)
        forward[1, 3] = -self.cards[card].offset_m
        return obj_to_world @ turn @ forward, card


@dataclass(frozen=True)
class Asset:
    """A validated asset with the geometry facts planning needs (no Blender involved). In
    billboard mode ``billboard`` is set and the "file" coordinates are the card's (metres, z up)."""

    spec: AssetSpec
    folder: Path
    mesh_path: Path | None
    sha256: str  # of every file in the folder (names and bytes)
    canonical_from_file: np.ndarray = field(repr=False, compare=False)  # 4x4
    hull_canonical: np.ndarray = field(repr=False, compare=False)  # (N, 3) convex hull vertices, metres
    billboard: Billboard | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def category(self) -> str:
        return self.spec.category


def tree_sha256(path: Path) -> str:
    """SHA-256 over a file's bytes, or over every file of a folder (relative names and bytes)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        digest.update(str(f.relative_to(path)).encode() + b"\0" if f != path else b"")
        digest.update(f.read_bytes())
    return digest.hexdigest()


def load_mesh(path: Path) -> trimesh.Trimesh:
    """Load a mesh file as one triangle mesh in file coordinates (node transforms applied)."""
    try:
        mesh = trimesh.load(str(path), force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for bad files
        raise ConfigError(f"{path}: cannot read mesh: {exc}") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ConfigError(f"{path}: the mesh has no triangles")
    return mesh


@functools.lru_cache(maxsize=256)
def load_asset(folder: Path, mode: str = "mesh") -> Asset:
    """Read and check the asset folder for rendering as a mesh or as a billboard; errors name the
    file and the key."""
    folder = Path(folder).resolve()
    spec_path = folder / "asset.yaml"
    if not spec_path.is_file():
        raise ConfigError(f"{folder}: not an asset folder (no asset.yaml)")
    spec: AssetSpec = validate(AssetSpec, read_yaml(spec_path), spec_path)
    if mode == "billboard":
        return _load_billboard(folder, spec, spec_path)
    if spec.mesh is None:
        reason = ((spec.capture or {}).get("mesh_quality") or {}).get("reason", "no metric cameras")
        raise ConfigError(f"{spec_path}: mesh: none (ingest kept this asset billboard-only: {reason}); "
                          "render it with the object group's render_mode: billboard")
    mesh_path = (folder / spec.mesh).resolve()
    if not mesh_path.is_file():
        raise ConfigError(f"{spec_path}: mesh: file '{spec.mesh}' not found")
    if spec.material is not None:
        try:
            resolve_material(spec.material, folder)
        except ConfigError as exc:
            raise ConfigError(f"{spec_path}: material: {exc}") from None
    mesh = load_mesh(mesh_path)
    up = spec.up_axis or _DEFAULT_UP[mesh_path.suffix.lower()]
    rotated = np.asarray(mesh.vertices, dtype=np.float64) @ _UP_TO_Z[up].T
    lo, hi = rotated.min(axis=0), rotated.max(axis=0)
    if spec.height_m is not None:
        if hi[2] - lo[2] <= 0:
            raise ConfigError(f"{spec_path}: height_m: the mesh is flat along its up axis '{up}'")
        scale = spec.height_m / (hi[2] - lo[2])
    else:
        scale = spec.scale
    centre = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]]) * scale
    canonical_from_file = np.eye(4)
    canonical_from_file[:3, :3] = _UP_TO_Z[up] * scale
    canonical_from_file[:3, 3] = -centre
    hull = _solid_hull(mesh, mesh_path)
    hull_canonical = np.asarray(hull.vertices) @ canonical_from_file[:3, :3].T + canonical_from_file[:3, 3]
    return Asset(spec=spec, folder=folder, mesh_path=mesh_path,
                 sha256=tree_sha256(folder),
                 canonical_from_file=canonical_from_file, hull_canonical=hull_canonical)


def _solid_hull(mesh: trimesh.Trimesh, path: Path) -> trimesh.Trimesh:
    """The mesh's convex hull, which placement and physics stand on; a mesh that spans no volume
    (one triangle, a flat sheet without thickness) has none and is refused by name."""
    try:
        hull = trimesh.convex.convex_hull(mesh.vertices)
    except Exception:  # scipy's QhullError for flat or too few points
        hull = None
    if hull is None or not hull.volume > 0:
        raise ConfigError(f"{path}: the mesh spans no volume ({len(mesh.vertices)} vertices, flat or in a line); "
                          "objects are placed as solids: give it some thickness")
    return hull


def _load_billboard(folder: Path, spec: AssetSpec, spec_path: Path) -> Asset:
    board = (spec.capture or {}).get("billboard")
    if not board:
        raise ConfigError(f"{spec_path}: capture.billboard: missing (billboards come from bproc-factory "
                          "ingest); render this asset with render_mode: mesh")
    try:
        cards = tuple(BillboardCard(folder / c["file"], float(c["angle_deg"]), c.get("elevation_deg"),
                                    float(c.get("offset_m", 0.0))) for c in board["cards"])
        half, height = float(board["half_width_m"]), float(board["height_m"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{spec_path}: capture.billboard: malformed ({exc})") from None
    for k, card in enumerate(cards):
        if not card.path.is_file():
            raise ConfigError(f"{spec_path}: capture.billboard.cards[{k}].file: '{card.path.name}' not found")
    if not cards or half <= 0 or height <= 0:
        raise ConfigError(f"{spec_path}: capture.billboard: needs cards and a positive size")
    # the volume a card sweeps turning about its axis: what placement and occlusion plan with
    reach = max(np.hypot(half, c.offset_m) for c in cards)
    ring = [(reach * np.cos(a), reach * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 16, endpoint=False)]
    hull = np.array([(x, y, z) for z in (0.0, height) for x, y in ring])
    return Asset(spec=spec, folder=folder, mesh_path=None, sha256=tree_sha256(folder), canonical_from_file=np.eye(4),
                 hull_canonical=hull, billboard=Billboard(half, height, cards))


def billboard_elevation_warnings(loaded: LoadedScenario, groups: list[list[Asset]],
                                 tolerance_deg: float = 15.0) -> list[str]:
    """Billboard groups whose camera elevations leave the captured elevations by more than
    ``tolerance_deg``: a card only shows the right silhouette near the elevation it was filmed at."""
    lo, hi = loaded.scenario.camera_or_default.elevation_deg.support()
    out = []
    for g, (group, assets) in enumerate(zip(loaded.scenario.objects, groups)):
        if group.render_mode != "billboard":
            continue
        for asset in assets:
            elevations = [c.elevation_deg for c in asset.billboard.cards if c.elevation_deg is not None]
            if not elevations:
                out.append(f"objects[{g}]: billboard '{asset.name}' has no measured capture elevation (filmed "
                           "without turntable markers); its cards suit cameras near that unknown elevation only")
            elif lo < min(elevations) - tolerance_deg or hi > max(elevations) + tolerance_deg:
                out.append(f"objects[{g}]: billboard '{asset.name}' was captured at {min(elevations):.0f}-"
                           f"{max(elevations):.0f} deg elevation but camera.elevation_deg spans {lo:.0f}-{hi:.0f} "
                           f"deg; keep it within {tolerance_deg:.0f} deg of the capture, or use render_mode: mesh")
    return out


def asset_folders(path: Path) -> list[Path]:
    """``path`` if it is an asset folder, else the asset folders directly inside it (a library of
    assets, such as ``assets/distractors``), sorted by name."""
    if (path / "asset.yaml").is_file() or not path.is_dir():
        return [path]
    inside = sorted(p for p in path.iterdir() if (p / "asset.yaml").is_file())
    if not inside:
        raise ConfigError(f"{path}: not an asset folder (no asset.yaml) and holds no asset folders")
    return inside


def resolve_assets(loaded: LoadedScenario) -> list[list[Asset]]:
    """The assets of each object group, loaded and checked; errors name the config key. An entry
    may be a folder of asset folders: it stands for all of them."""
    groups, folders = [], {}
    for g, group in enumerate(loaded.scenario.objects):
        assets = []
        for a, rel in enumerate(group.assets):
            try:
                found = [load_asset(folder, group.render_mode) for folder in asset_folders(loaded.resolve(rel))]
            except ConfigError as exc:
                raise ConfigError(f"{loaded.path}: objects[{g}].assets[{a}]: {exc}") from None
            for asset in found:
                if folders.setdefault(asset.name, asset.folder) != asset.folder:
                    raise ConfigError(f"{loaded.path}: objects[{g}].assets[{a}]: asset name "
                                      f"'{asset.name}' is also used by {folders[asset.name]}; names "
                                      "must be unique (they label the objects in meta)")
                assets.append(asset)
        groups.append(assets)
    return groups
