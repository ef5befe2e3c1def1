"""Labels by construction: COCO annotations from instance maps, amodal masks and visibility,
occlusion targets, per-image meta."""
from bproc_factory.facade import facade

__all__, __getattr__, __dir__ = facade(__name__, {
    "amodal": ["amodal_canvas", "frame_groups", "visibilities", "Visibility"],
    "coco": ["annotation_id", "annotations", "decode_rle", "tight_bbox"],
    "meta": ["developed_meta", "image_meta"],
    "occlusion": ["occlusion_outcome", "run_report"],
})
