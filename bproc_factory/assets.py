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

from bproc_factory.config.loader import ConfigError, LoadedScenario, read_yaml, validate
from bproc_factory.config.base import StrictModel

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
    mesh: str
    up_axis: Literal["x", "y", "z"] | None = Field(
        default=None, description="file axis pointing up; default y for OBJ/glTF, z for PLY")
    scale: float | None = Field(default=None, gt=0, description="file units to metres")
    height_m: float | None = Field(default=None, gt=0, description="real height; sets the scale")
    source: str | None = None
    license: str | None = None
    capture: dict[str, Any] | None = Field(
        default=None, description="written by bproc-factory ingest: source video hash, segmenter, cameras, "
                                  "views (frame, angle, mask confidence, crop box), dropped frames, mesh quality")

    @model_validator(mode="after")
    def _one_size(self) -> "AssetSpec":
        if (self.scale is None) == (self.height_m is None):
            raise ValueError("give exactly one of 'scale' (file units to metres) or 'height_m'")
        if not self.mesh.lower().endswith(MESH_SUFFIXES):
            raise ValueError(f"mesh: '{self.mesh}' is not one of {', '.join(MESH_SUFFIXES)}")
        return self


@dataclass(frozen=True)
class Asset:
    """A validated asset with the geometry facts planning needs (no Blender involved)."""

    spec: AssetSpec
    folder: Path
    mesh_path: Path
    sha256: str  # of every file in the folder (names and bytes)
    canonical_from_file: np.ndarray = field(repr=False, compare=False)  # 4x4
    hull_canonical: np.ndarray = field(repr=False, compare=False)  # (N, 3) convex hull vertices, metres

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
def load_asset(folder: Path) -> Asset:
    """Read and check the asset folder; errors name the file and the key."""
    folder = Path(folder).resolve()
    spec_path = folder / "asset.yaml"
    if not spec_path.is_file():
        raise ConfigError(f"{folder}: not an asset folder (no asset.yaml)")
    spec: AssetSpec = validate(AssetSpec, read_yaml(spec_path), spec_path)
    mesh_path = (folder / spec.mesh).resolve()
    if not mesh_path.is_file():
        raise ConfigError(f"{spec_path}: mesh: file '{spec.mesh}' not found")
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
    hull = trimesh.convex.convex_hull(mesh.vertices)
    hull_canonical = np.asarray(hull.vertices) @ canonical_from_file[:3, :3].T + canonical_from_file[:3, 3]
    return Asset(spec=spec, folder=folder, mesh_path=mesh_path,
                 sha256=tree_sha256(folder),
                 canonical_from_file=canonical_from_file, hull_canonical=hull_canonical)


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
                found = [load_asset(folder) for folder in asset_folders(loaded.resolve(rel))]
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
