"""Frames of a capture: decode a video (or read a folder of photos), reject blurred frames and
true duplicates (nothing moved). Every rejection is kept with its reason so the summary can list it."""
from __future__ import annotations

import contextlib
import os
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
    with _quiet_stderr():  # FFmpeg's own complaints ("moov atom not found") are not for the user
        cap = cv2.VideoCapture(str(source))
    if not cap.isOpened():
        not_video = _not_a_video(source)
        if not_video:
            raise IngestError(f"{source}: not a video ({not_video}); give a video file (MP4, MOV, MKV, AVI, "
                              "WebM) or a folder of photos")
        raise IngestError(f"{source}: OpenCV cannot open this video (unsupported container or codec; "
                          "re-encode it to H.264 MP4, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)")
    # OpenCV's FFmpeg backend applies the rotation metadata of phone videos (on by default).
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    step = max(1, int(np.ceil(count / max_frames))) if count > 0 else 1
    frames: list[Frame] = []
    index = 0
    with _quiet_stderr():  # once for the whole clip, not per frame
        while cap.grab():
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


_VIDEO_SIGNATURES = (b"\x1a\x45\xdf\xa3", b"RIFF", b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3", b"FLV", b"OggS",
                     b"\x30\x26\xb2\x75")  # Matroska/WebM, AVI, MPEG-PS, MPEG-1/2, FLV, Ogg, ASF/WMV


def _not_a_video(source: Path) -> str | None:
    """Why ``source`` is plainly not a video (empty, text, or no known container's signature at
    its start), or None when it may be one that OpenCV cannot decode."""
    with open(source, "rb") as f:
        head = f.read(512)
    if not head:
        return "the file is empty"
    transport_stream = len(head) > 188 and head[0] == head[188] == 0x47  # sync bytes 188 apart
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free") or head.startswith(_VIDEO_SIGNATURES) \
            or transport_stream:  # ISO/QuickTime boxes, or another container's signature
        return None
    try:
        return f"it holds text: {head.decode('utf-8').strip()[:40]!r}"
    except UnicodeDecodeError:
        return "no video container's signature at its start"


@contextlib.contextmanager
def _quiet_stderr():
    """Send the process's stderr (file descriptor 2, where FFmpeg writes) to /dev/null for a while."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
