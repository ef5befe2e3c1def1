"""Physics settling for piles (pure planning, no Blender): objects dropped into a placement area
fall and come to rest on it and on one another, simulated with pybullet (Bullet, the engine
Blender's rigid bodies use) on their convex hulls, inside invisible walls raised along the area's
outline. Objects already standing there are static obstacles. The same inputs settle the same
way, so a plan stays reproducible from its seed."""
from __future__ import annotations

import ctypes
import functools
import os
from dataclasses import dataclass
from types import ModuleType

import numpy as np
from scipy.spatial.transform import Rotation

from bproc_factory.assets import PlacementArea

STEP_S = 1.0 / 240.0
MAX_SECONDS = 6.0
CHECK_EVERY_S = 0.25
REST_SPEED = 0.005  # m/s and rad/s below which an object counts as resting
WALL_THICKNESS_M = 0.05


@dataclass(frozen=True)
class Body:
    """A convex body: hull points in its own frame (metres) and its pose (rotation, translation)."""

    points: np.ndarray  # (N, 3)
    rotation: np.ndarray  # 3x3
    translation: np.ndarray  # (3,)


@dataclass(frozen=True)
class Settled:
    """The bodies' resting poses and how the simulation ended."""

    poses: list[tuple[np.ndarray, np.ndarray]]  # (rotation, translation) per dropped body
    seconds: float
    at_rest: bool
    max_penetration_m: float


def settle(dropped: list[Body], obstacles: list[np.ndarray], area: PlacementArea) -> Settled:
    """Let ``dropped`` fall onto ``area`` (walls along its outline, as high as the pile could get)
    among static ``obstacles`` (hull points, world metres)."""
    pb = _pybullet()
    client = pb.connect(pb.DIRECT)
    try:
        pb.setGravity(0, 0, -9.81, physicsClientId=client)
        pb.setPhysicsEngineParameter(fixedTimeStep=STEP_S, numSolverIterations=50,
                                     deterministicOverlappingPairs=1, physicsClientId=client)
        top = area.z + sum(float(np.ptp(b.points @ b.rotation.T, axis=0)[2]) for b in dropped) + 0.1
        _static_box(client, *_floor(area), friction=0.6)
        for centre, half, yaw in _walls(area, top):
            _static_box(client, centre, half, yaw, friction=0.3)
        for points in obstacles:
            shape = pb.createCollisionShape(pb.GEOM_MESH, vertices=points.tolist(), physicsClientId=client)
            pb.createMultiBody(0, shape, basePosition=[0, 0, 0], physicsClientId=client)
        ids, centres = [], []
        for body in dropped:
            centre = body.points.mean(axis=0)
            shape = pb.createCollisionShape(pb.GEOM_MESH, vertices=(body.points - centre).tolist(),
                                            physicsClientId=client)
            position = body.rotation @ centre + body.translation
            quat = Rotation.from_matrix(body.rotation).as_quat()
            uid = pb.createMultiBody(0.2, shape, basePosition=position.tolist(), baseOrientation=quat.tolist(),
                                     physicsClientId=client)
            pb.changeDynamics(uid, -1, lateralFriction=0.6, restitution=0.0, linearDamping=0.1,
                              angularDamping=0.1, physicsClientId=client)
            ids.append(uid)
            centres.append(centre)
        steps, at_rest = 0, False
        while steps * STEP_S < MAX_SECONDS:
            for _ in range(int(CHECK_EVERY_S / STEP_S)):
                pb.stepSimulation(physicsClientId=client)
            steps += int(CHECK_EVERY_S / STEP_S)
            speeds = [max(np.linalg.norm(v), np.linalg.norm(w)) for v, w in
                      (pb.getBaseVelocity(uid, physicsClientId=client) for uid in ids)]
            if max(speeds, default=0.0) < REST_SPEED:
                at_rest = True
                break
        poses = []
        for uid, centre in zip(ids, centres):
            position, quat = pb.getBasePositionAndOrientation(uid, physicsClientId=client)
            rotation = Rotation.from_quat(quat).as_matrix()
            poses.append((rotation, np.asarray(position) - rotation @ centre))
        contacts = pb.getContactPoints(physicsClientId=client)
        penetration = max([-c[8] for c in contacts] + [0.0])
        return Settled(poses, steps * STEP_S, at_rest, float(penetration))
    finally:
        pb.disconnect(client)


@functools.cache
def _pybullet() -> ModuleType:
    """pybullet, imported without the build banner it prints on stderr."""
    saved = os.dup(2)  # the banner goes to stderr
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import pybullet
        ctypes.CDLL(None).fflush(None)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return pybullet


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3-D rotation."""
    q = rng.normal(size=4)
    return Rotation.from_quat(q / np.linalg.norm(q)).as_matrix()


def _floor(area: PlacementArea) -> tuple[np.ndarray, np.ndarray, float]:
    pts = np.asarray(area.polygon_xy)
    lo, hi = pts.min(axis=0) - 1.0, pts.max(axis=0) + 1.0
    centre = np.array([*(lo + hi) / 2, area.z - 0.05])
    return centre, np.array([*(hi - lo) / 2, 0.05]), 0.0


def _walls(area: PlacementArea, top: float) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """A thin box along each edge of the area's outline, just outside it."""
    pts = np.asarray(area.polygon_xy, float)
    signed = 0.5 * np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1])
    walls = []
    for a, b in zip(pts, np.roll(pts, -1, axis=0)):
        edge = b - a
        length = float(np.linalg.norm(edge))
        if length < 1e-9:
            continue
        outward = np.array([edge[1], -edge[0]]) / length * (1 if signed > 0 else -1)
        mid = (a + b) / 2 + outward * WALL_THICKNESS_M / 2
        height = top - area.z
        walls.append((np.array([*mid, area.z + height / 2]),
                      np.array([length / 2 + WALL_THICKNESS_M, WALL_THICKNESS_M / 2, height / 2]),
                      float(np.arctan2(edge[1], edge[0]))))
    return walls


def _static_box(client: int, centre: np.ndarray, half: np.ndarray, yaw: float, friction: float) -> None:
    pb = _pybullet()
    shape = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=half.tolist(), physicsClientId=client)
    uid = pb.createMultiBody(0, shape, basePosition=centre.tolist(),
                             baseOrientation=pb.getQuaternionFromEuler([0, 0, yaw]), physicsClientId=client)
    pb.changeDynamics(uid, -1, lateralFriction=friction, physicsClientId=client)
