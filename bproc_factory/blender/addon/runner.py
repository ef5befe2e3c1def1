"""Running the ``bproc-factory`` command from Blender: a child process per job, polled, never waited on
in the UI. Everything that needs the factory's own dependencies goes through here."""
from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import bpy

COMMAND = "bproc-factory"
PREVIEW_IMAGE = "bproc_factory preview"  # the Image data-block a preview loads into
COPY, SHEET = "scene.blend", "preview.png"  # in a job's folder: the open file's copy, the preview's sheet


class RunnerError(Exception):
    """The command cannot be started (not found, not runnable); the message says what to set."""


def find_executable(configured: str) -> str:
    """The ``bproc-factory`` executable: the add-on preference's path if set, else the one on PATH."""
    if configured.strip():
        path = Path(bpy.path.abspath(configured.strip()))
        if not path.is_file() or not os.access(path, os.X_OK):
            raise RunnerError(f"the bproc-factory path set in the add-on preferences ({path}) is not an "
                              "executable file")
        return str(path)
    found = shutil.which(COMMAND)
    if found is None:
        raise RunnerError(f"'{COMMAND}' is not on PATH; set its full path in Preferences > Add-ons > "
                          "bproc_factory (for example .venv/bin/bproc-factory)")
    return found


@dataclass(eq=False)  # a job is itself: RUNNING finds it by identity
class Job:
    """One run of the command in its own temporary folder; output goes to files, read when it ends."""

    title: str
    args: list[str]
    folder: Path
    process: subprocess.Popen | None = None
    started: float = field(default_factory=time.monotonic)

    def start(self, executable: str) -> None:
        env = dict(os.environ, NO_COLOR="1", TERM="dumb", COLUMNS="200")  # plain text, long lines
        try:
            with open(self.folder / "stdout.txt", "wb") as out, open(self.folder / "stderr.txt", "wb") as err:
                self.process = subprocess.Popen([executable, *self.args], stdout=out, stderr=err,
                                                stdin=subprocess.DEVNULL, env=env,
                                                creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))  # Windows
        except OSError as exc:
            self.discard()
            raise RunnerError(f"cannot run {executable}: {exc.strerror or exc}") from None
        RUNNING.append(self)

    def done(self) -> bool:
        return self.process is None or self.process.poll() is not None

    def wait(self) -> None:
        while not self.done():
            time.sleep(0.1)

    def cancel(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        if self in RUNNING:
            RUNNING.remove(self)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    def output(self, name: str) -> str:
        path = self.folder / f"{name}.txt"
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""

    def errors(self) -> list[str]:
        """The command's error paragraphs (its ``error:`` lines), or the tail of its output."""
        text = self.output("stderr")
        found = [line.split("error:", 1)[1].strip() for line in text.splitlines() if line.startswith("error:")]
        if found:
            return found
        tail = " ".join(text.split()[-60:]) or "no output"
        return [f"{self.title} failed (exit {self.returncode}): {tail}"]


RUNNING: list[Job] = []  # started and not yet discarded


@atexit.register
def cancel_all() -> None:
    """Stop every job still running (Blender quits, or the add-on is disabled) and remove its folder."""
    for job in list(RUNNING):
        job.cancel()


def save_copy(folder: Path) -> Path:
    """The open file as it is now (unsaved changes included), saved as a copy the command can read;
    the open file keeps its own path and state."""
    path = folder / COPY
    bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True, check_existing=False)
    return path


def new_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="bproc_factory_addon_"))


def start_check(executable: str) -> Job:
    """``scene check --json`` on a copy of the open file."""
    folder = new_folder()
    job = Job("scene check", ["scene", "check", "--json", str(save_copy(folder))], folder)
    job.start(executable)
    return job


@dataclass(frozen=True)
class Status:
    """What the last check said: the file, ok, errors, warnings and the marks the factory found."""

    file: str
    ok: bool
    errors: list[str]
    warnings: list[str]
    marks: dict | None


def this_file() -> str:
    return bpy.data.filepath or "the unsaved file"


def finish_check(job: Job) -> Status:
    """The check's JSON (paths of the temporary copy replaced by the open file's), or its failure."""
    copy = str(job.folder / COPY)
    lines = [line for line in job.output("stdout").splitlines() if line.startswith("{")]
    try:
        record = json.loads(lines[-1].replace(json.dumps(copy)[1:-1], json.dumps(this_file())[1:-1]))
        status = Status(this_file(), bool(record["ok"]), list(record["errors"]), list(record["warnings"]),
                        record["marks"])
    except (IndexError, KeyError, TypeError, ValueError):
        status = Status(this_file(), False, job.errors(), [], None)
    job.discard()
    return status


@dataclass(frozen=True)
class PreviewRequest:
    """What to preview: a scenario config ('' for the factory's built-in designer preview) and sizes."""

    config: str = ""
    count: int = 4
    width: int = 320
    samples: int = 8
    seed: int = 0


def start_preview(executable: str, request: PreviewRequest) -> Job:
    """``preview`` of a copy of the open file, with the request's config (or the built-in one)."""
    folder = new_folder()
    scene = save_copy(folder)
    config = [str(Path(bpy.path.abspath(request.config)))] if request.config.strip() else []
    job = Job("preview", ["preview", *config, "--scene", str(scene), "-o", str(folder / SHEET),
                          "-n", str(request.count), "--width", str(request.width),
                          "--samples", str(request.samples), "--seed", str(request.seed)], folder)
    job.start(executable)
    return job


def finish_preview(job: Job) -> bpy.types.Image:
    """The preview sheet as the Image ``PREVIEW_IMAGE`` (packed, so it outlives the temporary folder);
    raises ``RunnerError`` with the command's errors when it failed."""
    sheet = job.folder / SHEET
    if job.returncode != 0 or not sheet.is_file():
        errors = job.errors()
        job.discard()
        raise RunnerError("; ".join(errors))
    old = bpy.data.images.get(PREVIEW_IMAGE)
    if old is not None:
        bpy.data.images.remove(old)
    image = bpy.data.images.load(str(sheet), check_existing=False)
    image.name = PREVIEW_IMAGE
    image.pack()
    job.discard()
    return image


def progress(job: Job) -> str:
    """One status-bar line: the job, its time, and the command's latest output line."""
    lines = [line.strip() for line in job.output("stderr").replace("\r", "\n").splitlines() if line.strip()]
    return f"bproc_factory {job.title}: {job.seconds:.0f} s" + (f" | {lines[-1][:120]}" if lines else "") + \
        " (Esc cancels)"
