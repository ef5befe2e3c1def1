"""COCO labels from instance maps: exact RLE, tight bbox, pixel area, stable ids."""
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from bproc_factory.labels.coco import annotation_id, annotations, decode_rle
from bproc_factory.plan.colour import kelvin_to_rgb


def sample_map() -> np.ndarray:
    m = np.zeros((40, 50), np.uint16)
    m[5:15, 10:30] = 1
    m[20:38, 2:9] = 7
    m[12:14, 25:28] = 3  # a small instance overlapping instance 1's box
    return m


def test_every_annotation_decodes_to_exactly_its_instance_pixels():
    m = sample_map()
    anns, fate = annotations(m, 5, {1: 1, 3: 2, 7: 1, 9: 3})
    assert fate == {1: "annotated", 3: "annotated", 7: "annotated", 9: "not visible"}
    assert [a["instance_id"] for a in anns] == [1, 3, 7]  # 9 was placed but is not visible
    for a in anns:
        assert np.array_equal(decode_rle(a["segmentation"]), m == a["instance_id"])
        assert a["area"] == int((m == a["instance_id"]).sum())
        rle = {"size": a["segmentation"]["size"], "counts": a["segmentation"]["counts"].encode()}
        assert a["bbox"] == [int(v) for v in mask_utils.toBbox(rle)]
        assert a["area"] == int(mask_utils.area(rle))
        assert a["iscrowd"] == 0 and a["image_id"] == 5


def test_annotation_ids_are_derived_from_image_and_instance():
    anns, _ = annotations(sample_map(), 12, {1: 1, 3: 1, 7: 1})
    assert [a["id"] for a in anns] == [120001, 120003, 120007]
    assert annotation_id(0, 1) != annotation_id(1, 0)


def test_instances_never_placed_are_an_error():
    with pytest.raises(ValueError, match=r"instance ids \[7\] in the mask were never placed"):
        annotations(sample_map(), 0, {1: 1, 3: 1})


def test_black_body_colours_run_from_warm_to_cool():
    warm, d65, cool = kelvin_to_rgb(2700), kelvin_to_rgb(6500), kelvin_to_rgb(12000)
    assert warm[0] == 1.0 and warm[2] < 0.5
    assert np.allclose(d65, 1.0, atol=0.06)
    assert cool[2] == 1.0 and cool[0] < 0.9

