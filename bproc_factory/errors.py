"""One error hierarchy: every error a user should see as one clear message derives from
``FactoryError`` and carries the CLI's exit status, so the CLI catches that one type."""


class FactoryError(Exception):
    """A user-facing failure; the message names the file and key or frame at fault."""

    exit_code = 2  # bad input; subclasses for other outcomes override it


class SceneError(FactoryError, RuntimeError):
    """A scene file cannot be used; the message names the file and what is wrong."""


class RenderError(FactoryError, RuntimeError):
    """Blender failed to render a scene; the message carries the end of its console log."""

    exit_code = 1


class Stopped(FactoryError, RuntimeError):
    """A run stopped between scenes on request (SIGTERM or Ctrl-C); finished images are kept."""

    exit_code = 130


class IngestError(FactoryError, RuntimeError):
    """A capture cannot become an asset; the message names the file or frame at fault."""


class OutputExistsError(FactoryError, FileExistsError):
    """An output folder that must be new already holds files."""
