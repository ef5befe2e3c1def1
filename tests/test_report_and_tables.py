"""report (HTML that loads in headless Chromium) and the parameter tables."""
import csv
import re
import shutil
import subprocess
import tempfile

import pyarrow.parquet as pq
import pytest

from bproc_factory.qa.report import build_report
from bproc_factory.qa.table import build_tables, write_table

pytestmark = pytest.mark.render  # uses the rendered fixture

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_params_table_has_a_row_per_image_with_every_sampled_value(rendered, tmp_path):
    params, instances = build_tables(rendered)
    assert [r["image_index"] for r in params] == [0, 1, 2, 3]
    for key in ("sampled.view.elevation_deg", "sampled.view.target_offset_m.0", "sampled.lights.0.energy_w",
                "scene_index", "instances"):
        assert all(key in r for r in params), key
    assert sum(r["instances"] for r in params) == len(instances)
    assert instances and all(r["area_px"] > 0 and "sampled.scale" in r for r in instances)
    paths = write_table(params, tmp_path / "params")
    table = pq.read_table(paths[1])
    assert table.num_rows == 4 and "sampled.view.elevation_deg" in table.column_names
    with open(paths[0]) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and float(rows[2]["sampled.view.elevation_deg"]) == pytest.approx(
        params[2]["sampled.view.elevation_deg"])


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_report_renders_in_headless_chromium_with_every_image_loaded(rendered, tmp_path):
    index = build_report(rendered, tmp_path / "report")
    profile = tempfile.mkdtemp()
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                          "--no-first-run", "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=10000",
                          "--dump-dom", index.as_uri()], capture_output=True, text=True, timeout=120).stdout
    total = re.search(r'data-images-total="(\d+)"', dom)
    loaded = re.search(r'data-images-loaded="(\d+)"', dom)
    assert total and loaded, dom[:500]
    assert int(total.group(1)) == int(loaded.group(1)) >= 10
    assert "Class balance" in dom and "Smallest instances" in dom and "sampled.view.elevation_deg" in dom
    assert "sampled.scale (per object)" in dom and "sampled.asset (per object)" in dom  # per-object, categorical
    assert (tmp_path / "report" / "tables" / "params.parquet").is_file()
