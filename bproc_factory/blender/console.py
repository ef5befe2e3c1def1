"""Keep Blender's and BlenderProc's console chatter (C-level and Python) out of the user's terminal."""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def stdout_to(log_path: Path | str) -> Iterator[None]:
    """Redirect file descriptor 1 into ``log_path`` (appending) for the duration of the block."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
