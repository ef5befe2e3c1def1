"""Build the bundled demo assets (meshes + generated textures) into ``assets/demo/``.

Run: ``python assets/build_demo_assets.py [OUT_DIR]``. Nothing is downloaded: every shape is
modelled here and every texture drawn with OpenCV. The assets use the three supported mesh
formats, both ways of giving real size, and both ways of making a surface real:
- ``soda_can``: OBJ + MTL + PNG label, Y-up, millimetres (``scale: 0.001``); a ``finish`` makes the
  printed label metallic aluminium with anisotropic highlights;
- ``cereal_box``: GLB with a PBR base-colour texture, Y-up, sized by ``height_m``; a ``finish`` gives
  the print a glossy coat;
- ``bottle``: PLY, Z-up, millimetres (``scale: 0.001``); ``material: tinted_glass``;
- ``apple``: PLY, Z-up, sized by ``height_m``; ``material: fruit`` (subsurface scattering).
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import trimesh
import yaml
from PIL import Image

Y_UP_FROM_Z_UP = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # (x, y, z) -> (x, z, -y)


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, colour, thickness: int = 2):
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_DUPLEX, scale, colour, thickness, cv2.LINE_AA)


def _write_yaml(folder: Path, spec: dict) -> None:
    (folder / "asset.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")


def soda_can_texture(size: int = 256) -> np.ndarray:
    """RGB label atlas: the top 3/4 is the wrap-around label, the bottom quarter the metal caps."""
    img = np.zeros((size, size, 3), np.uint8)
    label_h = size * 3 // 4
    img[:label_h] = (200, 30, 40)
    for k in range(0, size, 32):
        img[label_h // 2 - 6: label_h // 2 + 6, k: k + 16] = (250, 250, 250)
    _text(img, "BPF", (18, 70), 1.4, (255, 255, 255), 3)
    _text(img, "COLA", (140, 150), 1.1, (255, 230, 120), 2)
    img[label_h:] = (170, 172, 176)
    cv2.circle(img, (size // 4, label_h + size // 8), size // 10, (120, 122, 126), 2)
    return img


def soda_can(folder: Path) -> None:
    """A 66 x 122 mm can: a UV-wrapped side with a seam and two capped discs."""
    radius, height, n = 33.0, 122.0, 48
    theta = np.linspace(0.0, 2 * np.pi, n + 1)
    side_v, side_uv = [], []
    for z, v in ((0.0, 0.25), (height, 1.0)):
        for k, t in enumerate(theta):
            side_v.append([radius * np.cos(t), radius * np.sin(t), z])
            side_uv.append([k / n, v])
    faces = []
    for k in range(n):
        a, b, c, d = k, k + 1, n + 1 + k, n + 2 + k
        faces += [[a, b, d], [a, d, c]]
    verts, uvs = list(side_v), list(side_uv)
    for z, up in ((0.0, False), (height, True)):
        centre = len(verts)
        verts.append([0.0, 0.0, z])
        uvs.append([0.25, 0.125])
        for t in theta[:-1]:
            verts.append([radius * np.cos(t), radius * np.sin(t), z])
            uvs.append([0.25 + 0.2 * np.cos(t), 0.125 + 0.1 * np.sin(t)])
        for k in range(n):
            a, b = centre + 1 + k, centre + 1 + (k + 1) % n
            faces.append([centre, a, b] if up else [centre, b, a])
    verts_y = np.asarray(verts) @ Y_UP_FROM_Z_UP.T
    texture = Image.fromarray(soda_can_texture())
    mesh = trimesh.Trimesh(verts_y, np.asarray(faces), process=False,
                           visual=trimesh.visual.TextureVisuals(uv=np.asarray(uvs), image=texture))
    mesh.export(folder / "mesh.obj", mtl_name="mesh.mtl")
    _write_yaml(folder, {"name": "soda_can", "category": "can", "mesh": "mesh.obj",
                         "up_axis": "y", "scale": 0.001,
                         "finish": {"metallic": {"uniform": [0.85, 1.0]}, "roughness": {"uniform": [0.12, 0.3]},
                                    "anisotropic": {"uniform": [0.3, 0.7]}},
                         "source": "modelled by assets/build_demo_assets.py", "license": "CC0-1.0"})


def cereal_box_texture(size: int = 384) -> np.ndarray:
    """A 3x2 atlas: front, back, left, right, top, bottom panels."""
    img = np.zeros((size * 2 // 3, size, 3), np.uint8)
    cell = size // 3
    colours = [(250, 200, 40), (240, 170, 30), (60, 120, 200), (60, 120, 200), (230, 230, 230),
               (200, 200, 200)]
    for k, colour in enumerate(colours):
        r, c = divmod(k, 3)
        img[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell] = colour
    _text(img, "OAT", (14, 50), 1.2, (150, 30, 20), 3)
    _text(img, "RINGS", (14, 90), 0.9, (150, 30, 20), 2)
    cv2.circle(img, (cell // 2, cell - 22), 14, (120, 60, 20), 5)
    _text(img, "NUTRITION", (cell + 6, 40), 0.5, (60, 30, 10), 1)
    for k in range(5):
        cv2.line(img, (cell + 8, 56 + 12 * k), (2 * cell - 8, 56 + 12 * k), (90, 50, 20), 1)
    return img


def cereal_box(folder: Path) -> None:
    """A 190 x 70 x 280 mm box with 24 vertices (hard edges) and an atlas texture."""
    hx, hy, hz = 95.0, 35.0, 140.0
    # (normal axis, sign, atlas cell) per face; each face's 4 corners in CCW order seen from outside.
    faces_def = [((0, -1, 0), 0), ((0, 1, 0), 1), ((-1, 0, 0), 2), ((1, 0, 0), 3), ((0, 0, 1), 4),
                 ((0, 0, -1), 5)]
    verts, uvs, faces = [], [], []
    for normal, cell in faces_def:
        n = np.asarray(normal, float)
        u_axis = np.cross([0, 0, 1], n) if abs(n[2]) < 0.5 else np.array([1.0, 0, 0])
        v_axis = np.cross(n, u_axis)
        half = np.array([hx, hy, hz])
        centre = n * half
        base = len(verts)
        for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            verts.append(centre + su * u_axis * half + sv * v_axis * half)
            r, c = divmod(cell, 3)
            uvs.append([(c + (su + 1) / 2) / 3, 1 - (r + 1 - (sv + 1) / 2) / 2])
        faces += [[base, base + 1, base + 2], [base, base + 2, base + 3]]
    verts = np.asarray(verts)
    verts[:, 2] += hz
    material = trimesh.visual.material.PBRMaterial(
        baseColorTexture=Image.fromarray(cereal_box_texture()), roughnessFactor=0.7, metallicFactor=0.0)
    mesh = trimesh.Trimesh(verts @ Y_UP_FROM_Z_UP.T, np.asarray(faces), process=False,
                           visual=trimesh.visual.TextureVisuals(uv=np.asarray(uvs), material=material))
    mesh.export(folder / "mesh.glb")
    _write_yaml(folder, {"name": "cereal_box", "category": "box", "mesh": "mesh.glb",
                         "up_axis": "y", "height_m": 0.28,
                         "finish": {"roughness": {"uniform": [0.5, 0.7]}, "coat": {"uniform": [0.3, 0.7]},
                                    "coat_roughness": {"uniform": [0.05, 0.15]}},
                         "source": "modelled by assets/build_demo_assets.py", "license": "CC0-1.0"})


def bottle(folder: Path) -> None:
    """A 250 mm lathe-turned bottle with vertex colours (green glass look, white label band)."""
    profile = [(0.0, 0.0), (36, 0), (38, 4), (38, 150), (34, 175), (16, 205), (13, 215), (13, 240),
               (15, 242), (15, 250), (0.0, 250)]
    n = 40
    rings = []
    verts, colours = [], []
    for r, z in profile:
        ring = []
        count = 1 if r == 0 else n
        for k in range(count):
            t = 2 * np.pi * k / n
            ring.append(len(verts))
            verts.append([r * np.cos(t), r * np.sin(t), z])
            label = 60 <= z <= 130
            colours.append([235, 235, 225, 255] if label else [40, 120, 60, 255])
        rings.append(ring)
    faces = []
    for lower, upper in zip(rings[:-1], rings[1:]):
        if len(lower) == 1:
            faces += [[lower[0], upper[(k + 1) % n], upper[k]] for k in range(n)]
        elif len(upper) == 1:
            faces += [[lower[k], lower[(k + 1) % n], upper[0]] for k in range(n)]
        else:
            for k in range(n):
                a, b, c, d = lower[k], lower[(k + 1) % n], upper[k], upper[(k + 1) % n]
                faces += [[a, b, d], [a, d, c]]
    mesh = trimesh.Trimesh(np.asarray(verts), np.asarray(faces), vertex_colors=np.asarray(colours),
                           process=False)
    mesh.export(folder / "mesh.ply")
    _write_yaml(folder, {"name": "bottle", "category": "bottle", "mesh": "mesh.ply",
                         "up_axis": "z", "scale": 0.001, "material": "tinted_glass",
                         "source": "modelled by assets/build_demo_assets.py", "license": "CC0-1.0"})


def apple(folder: Path) -> None:
    """A 75 mm apple: a sphere slightly wider than tall, dimpled at the stalk and the base."""
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=1.0)
    v = np.asarray(sphere.vertices)
    r_xy = np.hypot(v[:, 0], v[:, 1])
    z = v[:, 2] * 0.88 - 0.18 * np.exp(-(r_xy / 0.35) ** 2) * np.sign(v[:, 2])  # dimples at both poles
    lobes = 1.0 + 0.03 * np.cos(5 * np.arctan2(v[:, 1], v[:, 0])) * (1 - np.abs(v[:, 2]))  # five soft lobes
    verts = np.column_stack([v[:, 0] * lobes, v[:, 1] * lobes, z]) * 40.0
    verts[:, 2] -= verts[:, 2].min()
    mesh = trimesh.Trimesh(verts, np.asarray(sphere.faces), process=False)
    mesh.export(folder / "mesh.ply")
    _write_yaml(folder, {"name": "apple", "category": "fruit", "mesh": "mesh.ply",
                         "up_axis": "z", "height_m": 0.07, "material": "fruit",
                         "source": "modelled by assets/build_demo_assets.py", "license": "CC0-1.0"})


def main(out_dir: Path) -> None:
    for build in (soda_can, cereal_box, bottle, apple):
        folder = out_dir / build.__name__
        folder.mkdir(parents=True, exist_ok=True)
        build(folder)
        print(f"wrote {folder}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "demo")
