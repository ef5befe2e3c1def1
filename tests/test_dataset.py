"""Dataset folder: atomic writes, resume bookkeeping, run identity, COCO rebuilt from meta."""
import json
import os
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from bproc_factory.dataset.files import atomic_write_bytes
from bproc_factory.dataset.folder import STALE_TEMP_AGE_S, Dataset, DatasetError
from bproc_factory.labels.coco import annotations

IDENTITY = {"config_sha256": "abc", "run_seed": 1, "categories": {"can": 1}, "image_suffix": ".png",
            "inputs": {"scene": "s1", "assets": {"can": "a1"}}}


def write_fake_image(ds: Dataset, i: int) -> None:
    m = np.zeros((6, 8), np.uint16)
    m[1:3, 2:5] = 1
    anns, _ = annotations(m, i, {1: 1})
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

    monkeypatch.setattr("bproc_factory.dataset.files.os.replace", no_space)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old" and list(tmp_path.iterdir()) == [path]


def test_an_image_is_complete_only_with_all_three_files_and_readable_meta(tmp_path):
    ds = Dataset(tmp_path)
    ds.check_writable()
    for i in range(4):
        write_fake_image(ds, i)
    ds.mask_path(1).unlink()
    ds.meta_path(2).write_text("")  # e.g. a zero-length file after a power cut
    records, broken = ds.load_records()
    assert sorted(records) == [0, 3]
    assert broken == [ds.meta_path(2)]


def test_a_truncated_image_an_empty_mask_or_a_mask_of_the_wrong_size_is_not_complete(tmp_path):
    ds = Dataset(tmp_path)
    ds.check_writable()
    for i in range(5):
        write_fake_image(ds, i)
    data = ds.image_path(1).read_bytes()
    ds.image_path(1).write_bytes(data[:len(data) // 2])  # cut short
    ds.mask_path(2).write_bytes(b"")  # zero bytes after a power cut
    meta = json.loads(ds.meta_path(3).read_text())
    meta["width"] += 1  # the mask no longer matches its meta
    ds.meta_path(3).write_text(json.dumps(meta))
    records, broken = ds.load_records()
    assert sorted(records) == [0, 4]
    assert broken == [ds.image_path(1), ds.mask_path(2), ds.image_path(3), ds.mask_path(3)]


def test_coco_is_written_from_the_records_it_is_given(tmp_path):
    ds = Dataset(tmp_path)
    ds.check_writable()
    for i in (0, 1, 2):
        write_fake_image(ds, i)
    ds.image_path(2).unlink()
    records, _ = ds.load_records()
    ds.write_coco(records, IDENTITY["categories"], IDENTITY)
    coco = json.loads((tmp_path / "coco.json").read_text())
    assert [im["id"] for im in coco["images"]] == [0, 1]
    assert [a["id"] for a in coco["annotations"]] == [1, 10001]
    assert coco["categories"] == [{"id": 1, "name": "can", "supercategory": "can"}]
    assert coco["info"]["config_sha256"] == "abc"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_written_files_follow_the_umask_not_mkstemps_0600(tmp_path, umask, mode):
    # the module reads the umask once at import, so the write runs in a process started with it
    code = (f"import os, sys; os.umask({umask:#o}); from pathlib import Path\n"
            "from bproc_factory.dataset.files import atomic_write_bytes\n"
            "atomic_write_bytes(Path(sys.argv[1]), b'x')")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "f")], check=True, capture_output=True)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == mode


def test_a_folder_from_another_run_is_refused(tmp_path):
    ds = Dataset(tmp_path)
    ds.check_writable()
    ds.claim(IDENTITY)
    ds.claim(dict(IDENTITY))
    with pytest.raises(DatasetError, match="different run_seed"):
        ds.claim({**IDENTITY, "run_seed": 2})
    changed_asset = {**IDENTITY, "inputs": {"scene": "s1", "assets": {"can": "a2"}}}
    with pytest.raises(DatasetError, match=r"different inputs \(assets: can: a1 vs a2\)"):
        ds.claim(changed_asset)


def test_stale_temp_files_of_a_killed_run_are_removed_but_not_live_ones(tmp_path):
    ds = Dataset(tmp_path)
    ds.check_writable()
    child = subprocess.Popen(["true"])
    child.wait()
    dead = child.pid  # a process that has ended
    stale = tmp_path / "images" / ".000003.png.abc.tmp"  # someone else's, old
    orphan = tmp_path / "images" / f".000005.png.{dead}.xyz.tmp"  # a finished process's
    live = tmp_path / "images" / f".000004.png.{os.getpid()}.def.tmp"  # ours, being written
    for path in (stale, orphan, live):
        path.write_bytes(b"partial")
    old = time.time() - STALE_TEMP_AGE_S - 1
    os.utime(stale, (old, old))
    ds.remove_stale_temp_files()
    assert list((tmp_path / "images").iterdir()) == [live]


def test_unwritable_output_is_reported_with_its_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DatasetError, match=f"cannot write to output folder {blocker / 'out'}"):
        Dataset(blocker / "out").check_writable()


def _claim_after_barrier(root, seed, barrier, results):
    ds = Dataset(root)
    ds.check_writable()
    barrier.wait()
    try:
        ds.claim({"config_sha256": "a" * 64, "run_seed": seed, "image_suffix": ".png", "inputs": {}})
        results.put(seed)
    except DatasetError:
        results.put(None)


def test_of_many_runs_claiming_a_new_folder_at_once_exactly_one_wins(tmp_path):
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    for trial in range(10):
        root = tmp_path / f"out{trial}"
        barrier, results = ctx.Barrier(8), ctx.Queue()
        procs = [ctx.Process(target=_claim_after_barrier, args=(root, seed, barrier, results)) for seed in range(8)]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=30) for _ in procs]
        for p in procs:
            p.join()
        winners = [s for s in outcomes if s is not None]
        assert len(winners) == 1, outcomes
        assert json.loads((root / "run.json").read_text())["run_seed"] == winners[0]
        assert not list(root.glob(".*.tmp"))


def _hold_lock(root, held, release):
    with Dataset(root).locked():
        held.set()
        release.wait(30)


def test_a_locked_folder_refuses_a_second_run_naming_the_holder_and_frees_when_it_ends(tmp_path):
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    Dataset(tmp_path).check_writable()
    held, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(tmp_path, held, release))
    holder.start()
    assert held.wait(30)
    with pytest.raises(DatasetError, match=f"another bproc-factory run \\(process {holder.pid}\\) is writing"):
        with Dataset(tmp_path).locked():
            pass
    release.set()
    holder.join(30)
    with Dataset(tmp_path).locked():  # free again once the holder has ended
        pass
