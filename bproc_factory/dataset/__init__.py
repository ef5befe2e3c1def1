"""The dataset folder and everything that reads or writes it: atomic files, COCO and meta records,
the datasheet, shards, merge and the YOLO export."""
from bproc_factory.facade import facade

__all__, __getattr__, __dir__ = facade(__name__, {
    "datasheet": ["write_datasheet"],
    "files": ["atomic_write_bytes", "atomic_write_json", "check_picture_path", "folder_images", "link_or_copy",
              "process_alive", "write_picture"],
    "folder": ["COCO_FILE", "coco_record", "Dataset", "DatasetError", "half_linear", "LINEAR_DIR", "LOCK_ENV",
               "LOCK_FILE", "RUN_FILE"],
    "merge": ["merge_datasets"],
    "records": ["annotations_by_image", "category_names", "iter_meta", "open_dataset", "read_json"],
    "shards": ["COMPLETE_FILE", "parse_shard", "shard_folder", "shard_range"],
    "yolo": ["export_yolo"],
})
