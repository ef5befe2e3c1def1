"""validate: passes on a rendered dataset and catches each kind of corruption, naming file and id."""
import json
import shutil

import pytest
from conftest import cli

from bproc_factory.dataset.folder import NotADatasetError
from bproc_factory.qa.validation import validate

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
    (copy / "images" / "000000.png").write_bytes(b"not a png")
    parallel = validate(copy, workers=2, chunk=1).problems  # four chunks over two processes
    assert parallel == validate(copy, workers=1).problems and len(parallel) == 2


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


def test_a_wrong_but_valid_category_is_caught_against_the_meta_objects(copy):
    coco = json.loads((copy / "coco.json").read_text())
    ann = coco["annotations"][0]
    other = next(c["id"] for c in coco["categories"] if c["id"] != ann["category_id"])
    ann["category_id"] = other
    (copy / "coco.json").write_text(json.dumps(coco))
    meta_path = copy / "meta" / f"{ann['image_id']:06d}.json"
    meta = json.loads(meta_path.read_text())
    meta["annotations"] = [a for a in coco["annotations"] if a["image_id"] == ann["image_id"]]
    meta_path.write_text(json.dumps(meta))
    assert any(m.startswith(f"coco.json: annotation {ann['id']}: category_id {other} but instance")
               for m in messages(copy))


def test_malformed_entries_are_reported_not_crashed_on(copy):
    def change(coco):
        coco["annotations"][0]["bbox"] = None
        coco["annotations"][1]["segmentation"] = "garbage"
        del coco["images"][2]["width"]
    edit_coco(copy, change)
    found = messages(copy)
    assert any("bbox None is not [x, y, width, height]" in m for m in found)
    assert any("RLE cannot be decoded" in m for m in found)
    assert "coco.json: images[2]: needs integer id >= 0, width > 0, height > 0" in found


def test_an_annotation_that_is_a_list_is_reported_not_crashed_on(copy):
    edit_coco(copy, lambda coco: coco["annotations"].append([1, 2, 3]))
    k = len(json.loads((copy / "coco.json").read_text())["annotations"]) - 1
    assert f"coco.json: annotations[{k}]: not an object" in messages(copy)


def test_malformed_meta_objects_blame_the_meta_file_and_the_image_is_still_checked(copy):
    meta_path = copy / "meta" / "000001.json"
    meta = json.loads(meta_path.read_text())
    meta["objects"] = "two cans"
    meta_path.write_text(json.dumps(meta))
    (copy / "masks" / "000001.png").unlink()
    found = messages(copy)
    assert "meta/000001.json: image 1: objects is not a list of objects" in found
    assert any(m.startswith("masks/000001.png: image 1: missing") for m in found)  # checked all the same
    assert not any("malformed entry" in m for m in found)


def test_nan_in_a_meta_file_is_not_valid_json(copy):
    meta_path = copy / "meta" / "000002.json"
    meta = json.loads(meta_path.read_text())
    meta["sampled"]["nan_value"] = float("nan")
    meta_path.write_text(json.dumps(meta))  # Python writes NaN; JSON has no such number
    assert any(m.startswith("meta/000002.json: image 2: missing or unreadable (ValueError: NaN is not a JSON number")
               for m in messages(copy))


def test_unexpected_files_are_reported(copy):
    (copy / "images" / "000001.jpg").write_bytes(b"x")
    (copy / "meta" / "notes.txt").write_text("x")
    found = messages(copy)
    assert "images/000001.jpg: unexpected file" in found and "meta/notes.txt: unexpected file" in found


def test_a_folder_that_is_not_a_dataset_is_refused_with_one_clear_error(tmp_path):
    with pytest.raises(NotADatasetError, match="not a readable bproc_factory dataset"):
        validate(tmp_path)
