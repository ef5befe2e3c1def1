"""Frames of a capture: decode a video (or read a folder of photos), reject blurred frames and
true duplicates (nothing moved). Every rejection is kept with its reason so the summary can list it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from bproc_factory.errors import IngestError

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass
class Frame:
    """One decoded frame: its index in the source (video frame number or sorted photo position)
    and its BGR pixels, upright."""

    index: int
    image: np.ndarray
    name: str
    focus: float | None = None  # focus measure, once computed


@dataclass
class FrameSet:
    frames: list[Frame]
    source_frames: int
    rejected: dict[str, str] = field(default_factory=dict)  # frame name -> reason
    size: tuple[int, int] = (0, 0)  # width, height


def read_frames(source: Path, max_frames: int = 240) -> FrameSet:
    """Decode ``source`` (a video file or a folder of photos), sampling at most ``max_frames``
    frames evenly over the whole clip. Raises IngestError naming the file or frame at fault."""
    if source.is_dir():
        return _read_photos(source)
    if not source.is_file():
        raise IngestError(f"{source}: no such video file or folder of photos")
    cap = cv2.VideoCapture(str(source))
    if not cap.isOpened():
        raise IngestError(f"{source}: OpenCV cannot open this video (unsupported container or codec; "
                          "re-encode it to H.264 MP4, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)")
    # OpenCV's FFmpeg backend applies the rotation metadata of phone videos (on by default).
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    step = max(1, int(np.ceil(count / max_frames))) if count > 0 else 1
    frames: list[Frame] = []
    index = 0
    while True:
        ok = cap.grab()
        if not ok:
            break
        if index % step == 0:
            ok, image = cap.retrieve()
            if not ok or image is None:
                raise IngestError(f"{source}: frame {index} cannot be decoded (corrupt stream or "
                                  "unsupported codec)")
            frames.append(Frame(index, image, f"frame {index}"))
        index += 1
    cap.release()
    if not frames:
        raise IngestError(f"{source}: no frame could be decoded (empty video, or a codec OpenCV's "
                          "FFmpeg lacks; re-encode it to H.264 MP4)")
    h, w = frames[0].image.shape[:2]
    return FrameSet(frames, index, size=(w, h))


def _read_photos(folder: Path) -> FrameSet:
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    if not paths:
        raise IngestError(f"{folder}: no photos ({', '.join(sorted(PHOTO_SUFFIXES))}) in this folder")
    frames = []
    for k, path in enumerate(paths):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # applies EXIF orientation
        if image is None:
            raise IngestError(f"{path}: not a readable image")
        if frames and image.shape[:2] != frames[0].image.shape[:2]:
            first = frames[0]
            raise IngestError(f"{path}: {image.shape[1]}x{image.shape[0]} differs from "
                              f"{first.name} ({first.image.shape[1]}x{first.image.shape[0]}); all photos "
                              "of one capture must have the same size")
        frames.append(Frame(k, image, path.name))
    h, w = frames[0].image.shape[:2]
    return FrameSet(frames, len(paths), size=(w, h))


def focus_measure(frame: Frame) -> float:
    """Variance of the Laplacian of the grey image: low for blurred frames (cached on the frame)."""
    if frame.focus is None:
        frame.focus = float(cv2.Laplacian(cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())
    return frame.focus


def drop_blurred(frames: FrameSet, ratio: float = 0.35) -> None:
    """Reject frames whose focus measure is below ``ratio`` times the median (motion blur from a
    jerky hand or turntable)."""
    scores = {f.index: focus_measure(f) for f in frames.frames}
    floor = ratio * float(np.median(list(scores.values())))
    keep = []
    for f in frames.frames:
        if scores[f.index] < floor:
            frames.rejected[f.name] = f"blurred (focus {scores[f.index]:.0f} < {floor:.0f})"
        else:
            keep.append(f)
    frames.frames = keep


def drop_near_duplicates(frames: FrameSet, min_change: float = 2.5) -> None:
    """Reject true duplicates of the last kept frame: nothing in the picture moved (a turntable that
    paused, a camera that stopped, a photo taken twice). A turning object changes only its own
    small part of the frame, so change is measured where the picture changed most (the 99th
    percentile of the block-averaged difference, in grey levels), not as a whole-frame mean.
    Sensor noise and JPEG give about 1.5 there; an object turning by 2-3 degrees already exceeds
    ``min_change``, and a slower turn adds up against the last kept frame."""
    keep: list[Frame] = []
    last = None
    for f in frames.frames:
        grey = cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY).astype(np.float32)
        small = cv2.resize(grey, (64, 48), interpolation=cv2.INTER_AREA)
        if last is not None and float(np.percentile(np.abs(small - last), 99)) < min_change:
            frames.rejected[f.name] = "duplicate of the previous kept frame (nothing moved)"
            continue
        keep.append(f)
        last = small
    frames.frames = keep
