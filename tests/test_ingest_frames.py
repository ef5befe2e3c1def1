"""Frame choice for turntables (no bpy): a turning object's frames are kept, true duplicates dropped."""
import cv2
import numpy as np

from bproc_factory.ingest.frames import Frame, FrameSet, drop_near_duplicates


def turntable_frames(poses: list[float], size=(240, 180), radius=28, seed=0) -> list[np.ndarray]:
    """A textured disc turning in a static, noisy scene (sensor noise and JPEG), one frame per pose (degrees)."""
    rng = np.random.default_rng(seed)
    w, h = size
    scene = np.full((h, w, 3), 118, np.uint8)
    cv2.rectangle(scene, (0, int(h * 0.7)), (w, h), (92, 95, 99), -1)  # a plain plate / table edge
    yy, xx = np.mgrid[-radius:radius, -radius:radius]
    texture = ((((xx + radius) // 7) + ((yy + radius) // 7)) % 2 * 150 + 50).astype(np.uint8)
    disc = (xx ** 2 + yy ** 2) < radius ** 2
    frames = []
    for pose in poses:
        turn = cv2.getRotationMatrix2D((radius - 0.5, radius - 0.5), pose, 1.0)
        turned = cv2.warpAffine(texture, turn, texture.shape[::-1], flags=cv2.INTER_LINEAR, borderValue=0)
        image = scene.copy()
        patch = image[h // 2 - radius:h // 2 + radius, w // 2 - radius:w // 2 + radius]
        patch[disc] = np.stack([turned, turned // 2, 255 - turned], axis=-1)[disc]
        noisy = np.clip(image + rng.normal(0, 2.0, image.shape), 0, 255).astype(np.uint8)
        ok, jpeg = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 85])
        frames.append(cv2.imdecode(jpeg, cv2.IMREAD_COLOR))
    return frames


def test_a_turning_object_keeps_every_frame_and_a_paused_turntable_drops_the_repeats():
    poses = [6.0 * k for k in range(20)] + [114.0, 114.0] + [6.0 * k for k in range(20, 28)]
    images = turntable_frames(poses)
    fs = FrameSet([Frame(k, im, f"frame {k}") for k, im in enumerate(images)], len(images))
    drop_near_duplicates(fs)
    assert sorted(fs.rejected) == ["frame 20", "frame 21"]
    assert all("nothing moved" in reason for reason in fs.rejected.values())
    assert len(fs.frames) == 28


def test_a_slow_turn_is_kept_as_its_change_adds_up():
    images = turntable_frames([1.0 * k for k in range(40)], seed=1)
    fs = FrameSet([Frame(k, im, f"frame {k}") for k, im in enumerate(images)], len(images))
    drop_near_duplicates(fs)
    kept = [f.index for f in fs.frames]
    assert kept[0] == 0 and len(kept) >= 10 and max(np.diff(kept)) <= 4  # no stretch of the turn is lost
