"""What the report draws, without rendering: a value that never varies is listed, not plotted; a
count gets bars; a constant visible fraction is one narrow bar at its value; the datasheet's
limitations follow the config."""
import matplotlib.pyplot as plt

from bproc_factory.dataset.datasheet import limitations
from bproc_factory.qa import plots
from bproc_factory.qa.report import _plots


def _rows():
    params = [{"image_index": i, "instances": 2, "sampled.view.elevation_deg": 30.0 + 7.3 * i,
               "sampled.render.samples": 16, "sampled.objects.count": i % 3} for i in range(6)]
    instances = [{"image_index": i, "category": "can", "category_id": 1, "bbox_w": 10 + i, "bbox_h": 12,
                  "area_px": 100 + 40 * i, "object.visib_fract": 1.0, "object.truncated": 0.0}
                 for i in range(6)]
    return params, instances


def test_constant_values_are_listed_counts_get_bars_and_varying_values_histograms(tmp_path):
    assert plots.kind_of([16] * 6) == "constant" and plots.kind_of([0, 1, 2, 0, 1]) == "bars"
    assert plots.kind_of([0.0, 1.0, 2.0]) == "bars" and plots.kind_of(["metal", "wood"]) == "bars"
    assert plots.kind_of([30.0, 37.3, 44.6]) == "histogram" and plots.kind_of(list(range(40))) == "histogram"
    figures, constants = _plots(*_rows(), tmp_path)
    assert ("sampled.render.samples", 16) in constants
    titles = [t for t, _ in figures]
    assert "sampled.objects.count" in titles and "sampled.view.elevation_deg" in titles
    assert "sampled.render.samples" not in titles and all(p.is_file() for _, p in figures)
    plt.close("all")


def test_a_visible_fraction_of_1_everywhere_is_one_narrow_bar_at_1(tmp_path):
    params, instances = _rows()
    path = plots.per_category_histogram(instances, "object.visib_fract", "Visible fraction", "share",
                                        tmp_path / "v.png")
    assert path.is_file()
    edges = plots._bins([1.0] * 6, 20, False)
    assert edges[0] >= 0.98 and edges[-1] <= 1.02
    assert plots._bins([0.0] * 6, 20, False)[0] >= -0.011  # truncation 0 everywhere: no bars far below 0
    plt.close("all")


def test_the_datasheet_says_no_piles_only_when_the_config_has_none():
    assert "no physics settling, stacking or piles" in limitations({"objects": [{"pose": "upright"}]})
    assert "piles" not in limitations({"objects": [{"pose": "upright"}, {"pose": "drop"}],
                                       "sensor": {"tone": {}}})
    assert "No sensor model" in limitations({"objects": [{}]})
