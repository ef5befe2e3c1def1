"""The camera model: intrinsics and poses, lens distortion, calibration import, the sensor's image
pipeline and lens effects (pure numpy/OpenCV), and fitting them to a real camera."""
from bproc_factory.facade import facade

__all__, __getattr__, __dir__ = facade(__name__, {
    "calibration": ["import_calibration"],
    "camera": ["intrinsics", "look_at", "opencv_to_blender", "rot_z", "spherical_offset"],
    "develop": ["Developed", "develop_pixels"],
    "distortion": ["cached_canvas", "Canvas", "DistortionError", "warp_image", "warp_labels"],
    "fit_io": ["comparison_path", "fit_profile"],
    "lens": ["apply_lens"],
    "pipeline": ["apply_sensor", "LUMA", "srgb_decode", "srgb_encode"],
    "sample": ["sample_lens", "sample_sensor"],
})
