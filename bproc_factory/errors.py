"""Errors raised inside the bpy boundary, defined outside it so callers can catch them without bpy."""


class SceneError(RuntimeError):
    """A scene file cannot be used; the message names the file and what is wrong."""


class RenderError(RuntimeError):
    """Blender failed to render a scene; the message carries the end of its console log."""


class Stopped(RuntimeError):
    """A run stopped between scenes on request (SIGTERM or Ctrl-C); finished images are kept."""


class IngestError(RuntimeError):
    """A capture cannot become an asset; the message names the file or frame at fault."""
