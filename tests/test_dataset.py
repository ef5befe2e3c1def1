"""Dataset folder: atomic writes, resume bookkeeping, run identity, COCO rebuilt from meta."""
import json

import numpy as np
import pytest

from bproc_factory.dataset import Dataset, DatasetError, atomic_write_bytes
from bproc_factory.labels import annotations

IDENTITY = {"config_sha256": "abc", "run_seed": 1, "categories": {"can": 1}, "image_suffix": ".png"}


def write_fake_image(ds: Dataset, i: int) -> None:
    m = np.zeros((6, 8), np.uint16)
    m[1:3, 2:5] = 1
    anns = annotations(m, i, {1: 1})
    meta = {"image_index": i, "file_name": ds.image_path(i).name, "width": 8, "height": 6, "annotations": anns}
    ds.write_image(i, np.zeros((6, 8, 3), np.uint8), m, meta, 95)


def test_atomic_write_replaces_whole_files_and_leaves_no_temp(tmp_path):
    path = tmp_path / "x.json"
    atomic_write_bytes(path, b"old")
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new" and list(tmp_path.iterdir()) == [path]


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "x.json"
    atomic_write_bytes(path, b"old")

    def no_space(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("bproc_factory.dataset.os.replace", no_space)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old" and list(tmp_path.iterdir()) == [path]


def test_an_image_counts_as_complete_only_with_all_three_files(tmp_path):
    ds = Dataset(tmp_path)
    ds.check_writable()
    write_fake_image(ds, 0)
    write_fake_image(ds, 1)
    ds.mask_path(1).unlink()
    assert ds.missing(range(3)) == [1, 2]


def test_coco_is_rebuilt_from_complete_images_only(tmp_path):
    ds = Dataset(tmp_path)
    ds.check_writable()
    ds.claim(IDENTITY)
    for i in (0, 1, 2):
        write_fake_image(ds, i)
    ds.image_path(2).unlink()
    coco = ds.write_coco()
    assert [im["id"] for im in coco["images"]] == [0, 1]
    assert [a["id"] for a in coco["annotations"]] == [1, 10001]
    assert coco["categories"] == [{"id": 1, "name": "can", "supercategory": "can"}]
    assert json.loads((tmp_path / "coco.json").read_text()) == coco


def test_a_folder_from_another_run_is_refused(tmp_path):
    ds = Dataset(tmp_path)
    ds.check_writable()
    ds.claim(IDENTITY)
    ds.claim(dict(IDENTITY))
    with pytest.raises(DatasetError, match="different run_seed"):
        ds.claim({**IDENTITY, "run_seed": 2})


def test_stale_temp_files_of_a_killed_run_are_removed(tmp_path):
    ds = Dataset(tmp_path)
    ds.check_writable()
    (tmp_path / "images" / ".000003.png.abc.tmp").write_bytes(b"partial")
    ds.remove_stale_temp_files()
    assert list((tmp_path / "images").iterdir()) == []


def test_unwritable_output_is_reported_with_its_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DatasetError, match=f"cannot write to output folder {blocker / 'out'}"):
        Dataset(blocker / "out").check_writable()
