"""The bpy boundary: the only subpackage that imports ``bpy`` or ``blenderproc``."""
