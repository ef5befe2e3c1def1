"""validate: passes on a rendered dataset and catches each kind of corruption, naming file and id."""
import json
import shutil

import pytest

from bproc_factory.qa.validate import validate
from conftest import cli

pytestmark = pytest.mark.render  # uses the rendered fixture


@pytest.fixture()
def copy(rendered, tmp_path):
    target = tmp_path / "ds"
    shutil.copytree(rendered, target)
    return target


def edit_coco(root, change):
    coco = json.loads((root / "coco.json").read_text())
    change(coco)
    (root / "coco.json").write_text(json.dumps(coco))


def messages(root) -> list[str]:
    return [str(p) for p in validate(root, workers=1).problems]


def test_a_rendered_dataset_validates_cleanly_through_the_cli(rendered):
    result = cli("validate", rendered, check=True)
    assert result.stdout.startswith(f"OK {rendered}: 4 images")


def test_parallel_and_serial_validation_agree(copy):
    (copy / "masks" / "000002.png").unlink()
    assert validate(copy, workers=2).problems == validate(copy, workers=1).problems != []


def test_deleted_mask_is_reported_with_its_file(copy):
    (copy / "masks" / "000001.png").unlink()
    assert "masks/000001.png: image 1: missing, unreadable or not a uint16 single-channel PNG" in messages(copy)
    result = cli("validate", copy)
    assert result.returncode == 1 and "masks/000001.png" in result.stderr and "1 problems" in result.stderr


def test_edited_rle_is_caught(copy):
    def change(coco):
        ann = coco["annotations"][0]
        counts = ann["segmentation"]["counts"]
        ann["segmentation"]["counts"] = counts[:-2] + ("1" if counts[-2] != "1" else "2") + counts[-1]
    edit_coco(copy, change)
    ann_id = json.loads((copy / "coco.json").read_text())["annotations"][0]["id"]
    found = messages(copy)
    assert any(m.startswith(f"coco.json: annotation {ann_id}: RLE") for m in found), found


def test_duplicate_annotation_id_is_caught(copy):
    def change(coco):
        coco["annotations"][1]["id"] = coco["annotations"][0]["id"]
    edit_coco(copy, change)
    assert any("duplicate annotation id" in m for m in messages(copy))


def test_wrong_bbox_is_caught(copy):
    def change(coco):
        coco["annotations"][0]["bbox"][2] += 1
    edit_coco(copy, change)
    assert any("bbox" in m and "but the mask's is" in m for m in messages(copy))


def test_wrong_area_unknown_category_and_orphan_files_are_caught(copy):
    def change(coco):
        coco["annotations"][0]["area"] += 5
        coco["annotations"][1]["category_id"] = 99
        coco["images"] = coco["images"][:-1]
    edit_coco(copy, change)
    found = messages(copy)
    assert any("area" in m and "but the mask has" in m for m in found)
    assert any("unknown category_id 99" in m for m in found)
    assert "meta/000003.json: not listed in coco.json" in found


def test_meta_that_disagrees_with_coco_is_caught(copy):
    meta = json.loads((copy / "meta" / "000000.json").read_text())
    meta["annotations"] = meta["annotations"][:-1]
    (copy / "meta" / "000000.json").write_text(json.dumps(meta))
    assert "meta/000000.json: image 0: annotations differ from coco.json" in messages(copy)


def test_a_folder_that_is_not_a_dataset_is_one_clear_problem(tmp_path):
    assert len(messages(tmp_path)) == 1 and "not a readable dataset" in messages(tmp_path)[0]
