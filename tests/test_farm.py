"""Render farm on one machine: shards, recycled worker processes, and their faults. Datasets made
by shards or by several workers equal a single-process run of the same indices."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cli, tiny_config, write_config

from bproc_factory.config.loader import ConfigError
from bproc_factory.dataset.shards import parse_shard, shard_folder, shard_range
from bproc_factory.run.workers import GPU_ENV, THREADS_ENV, plan_batches, visible_gpus, worker_batches, worker_env


@pytest.mark.parametrize("views", [1, 2, 3])
@pytest.mark.parametrize("n", [1, 2, 5, 40])
def test_shards_are_disjoint_whole_scenes_covering_the_run(views, n):
    start, count = 7, 31
    parts = [shard_range(start, count, views, i, n) for i in range(n)]
    indices = [j for a, c in parts for j in range(a, a + c)]
    assert indices == list(range(start, start + count))
    for (a, c), (b, _) in zip(parts, parts[1:]):
        if c and a + c < start + count:
            assert (a + c) % views == 0  # a cut between shards is a cut between scenes


def test_shard_is_read_from_array_job_variables():
    assert parse_shard("3/16") == (3, 16)
    assert parse_shard("env", {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "1",
                               "SLURM_ARRAY_TASK_COUNT": "8"}) == (4, 8)
    assert parse_shard("env", {"JOB_COMPLETION_INDEX": "2", "BPF_SHARD_COUNT": "4"}) == (2, 4)
    assert parse_shard("env", {"AWS_BATCH_JOB_ARRAY_INDEX": "0", "BPF_SHARD_COUNT": "2"}) == (0, 2)
    for bad, message in (("4/4", "index 4 is not in 0..3"), ("x", "expected I/N")):
        with pytest.raises(ConfigError, match=message):
            parse_shard(bad)
    with pytest.raises(ConfigError, match="JOB_COMPLETION_INDEX is set but BPF_SHARD_COUNT"):
        parse_shard("env", {"JOB_COMPLETION_INDEX": "1"})
    with pytest.raises(ConfigError, match="none of SLURM_ARRAY_TASK_ID"):
        parse_shard("env", {})
    assert shard_folder(Path("out"), 3, 16).name == "shard-003-of-016"


def test_worker_batches_hold_whole_scenes():
    assert plan_batches(3, 9, 2, 4) == [(3, 3), (6, 4), (10, 2)]  # no scene split between batches
    assert plan_batches(0, 5, 3, 1) == [(0, 3), (3, 2)]


def test_a_short_run_gives_every_worker_a_batch():
    assert worker_batches(0, 4, 2, workers=2, recycle_after=50) == [(0, 2), (2, 2)]  # was one batch of 4
    assert len(worker_batches(0, 64, 1, workers=8, recycle_after=50)) == 8
    assert worker_batches(0, 1000, 1, workers=2, recycle_after=50) == plan_batches(0, 1000, 1, 50)  # long: recycled


def _same_images(a: Path, b: Path, indices) -> None:
    for i in indices:
        for sub, name in (("meta", f"{i:06d}.json"), ("masks", f"{i:06d}.png")):
            assert (a / sub / name).read_bytes() == (b / sub / name).read_bytes(), (sub, name)


def test_workers_are_pinned_one_gpu_each_from_the_schedulers_list_or_nvidia_smi():
    smi = "GPU 0: NVIDIA H100 (UUID: GPU-a)\nGPU 1: NVIDIA H100 (UUID: GPU-b)\n"
    assert visible_gpus({}, smi) == ["0", "1"]
    assert visible_gpus({GPU_ENV: "2,3"}, smi) == ["2", "3"]  # a scheduler's allocation wins
    assert visible_gpus({GPU_ENV: ""}, smi) == [] and visible_gpus({GPU_ENV: "-1"}, None) == []
    assert visible_gpus({}, None) == []
    envs = [worker_env({"PATH": "/bin"}, 4, slot, ["2", "3"]) for slot in range(3)]
    assert [e[GPU_ENV] for e in envs] == ["2", "3", "2"]
    assert all(e[THREADS_ENV] == "4" and e["PATH"] == "/bin" for e in envs)
    assert GPU_ENV not in worker_env({}, 1, 0, [])  # no GPUs: the CPU worker's view is untouched


@pytest.mark.render
def test_shards_merge_into_the_single_process_dataset(tmp_path):
    config = write_config(tmp_path, tiny_config())
    cli("render", config, "-o", tmp_path / "single", "-n", 5, "-q", check=True)
    for i in range(3):
        cli("render", config, "-o", tmp_path / "sharded", "-n", 5, "--shard", f"{i}/3", "-q", check=True)
    shards = sorted((tmp_path / "sharded").iterdir())
    assert [p.name for p in shards] == ["shard-000-of-003", "shard-001-of-003", "shard-002-of-003"]
    assert all((p / "COMPLETE").is_file() for p in shards)
    (shards[1] / "COMPLETE").unlink()
    refused = cli("merge", *shards, "-o", tmp_path / "merged")
    assert refused.returncode != 0 and "shard not complete" in refused.stderr
    again = cli("render", config, "-o", tmp_path / "sharded", "-n", 5, "--shard", "1/3", "-q", check=True)
    assert "Rendered 0 images" in again.stdout and (shards[1] / "COMPLETE").is_file()  # idempotent
    cli("merge", *shards, "-o", tmp_path / "merged", check=True)
    cli("validate", tmp_path / "merged", check=True)
    _same_images(tmp_path / "single", tmp_path / "merged", range(5))
    single = json.loads((tmp_path / "single" / "coco.json").read_text())
    merged = json.loads((tmp_path / "merged" / "coco.json").read_text())
    assert single["annotations"] == merged["annotations"]


@pytest.mark.render
def test_two_recycled_workers_make_the_single_process_dataset(tmp_path):
    config = write_config(tmp_path, tiny_config())
    cli("render", config, "-o", tmp_path / "single", "-n", 6, "-q", check=True)
    result = cli("render", config, "-o", tmp_path / "workers", "-n", 6, "--workers", 2, "--recycle-after", 2,
                 "-q", check=True)
    annotations = len(json.loads((tmp_path / "single" / "coco.json").read_text())["annotations"])
    assert f"({annotations} instances) with 2 workers (3 processes)" in result.stdout
    _same_images(tmp_path / "single", tmp_path / "workers", range(6))
    assert (tmp_path / "single" / "coco.json").read_bytes() == (tmp_path / "workers" / "coco.json").read_bytes()
    cli("validate", tmp_path / "workers", check=True)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _start_workers(config: Path, out: Path, n: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bproc_factory", "render", str(config), "-o", str(out), "-n", str(n),
                             "--workers", "2", "--recycle-after", "2", "-q"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})


def _wait_for_children(driver: subprocess.Popen) -> list[int]:
    deadline = time.time() + 60
    while time.time() < deadline:
        kids = _children(driver.pid)
        if kids:
            return kids
        time.sleep(0.05)
    raise AssertionError("no worker started")


@pytest.mark.render
def test_a_killed_worker_is_retried_and_no_image_is_lost(tmp_path):
    config = write_config(tmp_path, tiny_config())
    driver = _start_workers(config, tmp_path / "out", 6)
    os.kill(_wait_for_children(driver)[0], signal.SIGKILL)
    stdout, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 0, stderr
    assert "retried" in stdout
    metas = sorted(p.name for p in (tmp_path / "out" / "meta").iterdir())
    assert metas == [f"{i:06d}.json" for i in range(6)]
    cli("validate", tmp_path / "out", check=True)


@pytest.mark.render
def test_a_killed_driver_takes_its_workers_along_and_a_rerun_completes_the_dataset(tmp_path):
    config = write_config(tmp_path, tiny_config())
    driver = _start_workers(config, tmp_path / "out", 6)
    kids = _wait_for_children(driver)
    driver.kill()
    driver.wait()
    time.sleep(1.0)
    assert not [k for k in kids if Path(f"/proc/{k}").exists() and "Z" not in Path(f"/proc/{k}/stat").read_text().split()[2]]
    cli("render", config, "-o", tmp_path / "out", "-n", 6, "--workers", 2, "-q", check=True)
    cli("render", config, "-o", tmp_path / "single", "-n", 6, "-q", check=True)
    _same_images(tmp_path / "single", tmp_path / "out", range(6))
    cli("validate", tmp_path / "out", check=True)


@pytest.mark.render
def test_workers_report_an_unwritable_output_once_and_clearly(tmp_path):
    config = write_config(tmp_path, tiny_config())
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = cli("render", config, "-o", blocker / "out", "-n", 4, "--workers", 2, "-q")
    assert result.returncode == 2
    assert f"cannot write to output folder {blocker / 'out'}" in " ".join(result.stderr.split())


@pytest.mark.render
def test_workers_refused_by_another_runs_folder_write_nothing_there(rendered, tmp_path):
    out = tmp_path / "other"
    shutil.copytree(rendered, out)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    config = write_config(tmp_path, tiny_config())
    result = cli("render", config, "-o", out, "-n", 4, "--seed", 8, "--workers", 2, "-q")
    assert result.returncode == 2 and "different run_seed" in " ".join(result.stderr.split()), result.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before  # no log, coco.json and DATASET.md as they were


@pytest.mark.render
def test_a_missing_gpu_is_a_clear_error_and_auto_says_it_used_the_cpu(tmp_path):
    config = write_config(tmp_path, tiny_config())
    if subprocess.run(["sh", "-c", "command -v nvidia-smi"], capture_output=True).returncode == 0:
        pytest.skip("this machine has an NVIDIA driver")
    result = cli("render", config, "-o", tmp_path / "gpu", "-n", 1, "--device", "optix", "-q")
    assert result.returncode == 2 and "--device optix: no OPTIX device found" in " ".join(result.stderr.split())
    assert not (tmp_path / "gpu").exists()
    result = cli("render", config, "-o", tmp_path / "auto", "-n", 1, "-q", check=True)
    assert "on CPU (auto: no OptiX or CUDA device)" in result.stdout
    meta = json.loads((tmp_path / "auto" / "meta" / "000000.json").read_text())
    assert meta["provenance"]["render_device"] == "CPU"


@pytest.mark.render
def test_a_local_ray_farm_makes_the_single_process_dataset_and_resumes(tmp_path):
    pytest.importorskip("ray")
    config = write_config(tmp_path, tiny_config())
    cli("render", config, "-o", tmp_path / "single", "-n", 6, "-q", check=True)
    result = cli("farm", config, "-o", tmp_path / "farm", "-n", 6, "--shards", 2, "-q", check=True)
    assert "Farmed 6 images in 2 shards on Ray" in result.stdout
    dataset = tmp_path / "farm" / "dataset"
    _same_images(tmp_path / "single", dataset, range(6))
    single = json.loads((tmp_path / "single" / "coco.json").read_text())
    assert json.loads((dataset / "coco.json").read_text())["annotations"] == single["annotations"]
    cli("validate", dataset, check=True)
    shard = tmp_path / "farm" / "shards" / "shard-001-of-002"
    (shard / "COMPLETE").unlink()
    (shard / "meta" / "000004.json").unlink()  # as if the task died before finishing
    result = cli("farm", config, "-o", tmp_path / "farm", "-n", 6, "--shards", 2, "-q", check=True)
    assert "1 already complete" in result.stdout
    _same_images(tmp_path / "single", dataset, range(6))
    cli("validate", dataset, check=True)


def _shard_renders(output: Path) -> dict[int, bytes]:
    """Pid -> shard ("I/N") of the shard render processes Ray tasks started for ``output``."""
    out = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--shard" in args and any(str(output).encode() in a for a in args):
            out[int(cmdline.parent.name)] = args[args.index(b"--shard") + 1]
    return out


@pytest.mark.render
def test_a_ray_task_whose_render_is_killed_is_retried_and_no_image_is_lost(tmp_path):
    pytest.importorskip("ray")
    config = write_config(tmp_path, tiny_config())
    farm = subprocess.Popen([sys.executable, "-m", "bproc_factory", "farm", str(config), "-o", str(tmp_path / "farm"),
                             "-n", "6", "--shards", "2", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "COLUMNS": "200"})
    deadline = time.time() + 120
    while not (victims := _shard_renders(tmp_path / "farm")) and time.time() < deadline:
        time.sleep(0.05)
    assert victims, "no shard render started"
    victim, shard = next(iter(victims.items()))
    os.kill(victim, signal.SIGKILL)
    retried = False
    while farm.poll() is None and not retried:  # Ray runs the task again: a new render of that shard
        retried = any(pid != victim and s == shard for pid, s in _shard_renders(tmp_path / "farm").items())
        time.sleep(0.02)
    stdout, stderr = farm.communicate(timeout=600)
    assert retried
    assert farm.returncode == 0, stderr
    dataset = tmp_path / "farm" / "dataset"
    assert sorted(p.name for p in (dataset / "meta").iterdir()) == [f"{i:06d}.json" for i in range(6)]
    cli("validate", dataset, check=True)


def _limit_file_size() -> None:
    """In the child: files may not grow past 40 kB (EFBIG, like a full disk) instead of a signal."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))


@pytest.mark.render
def test_a_full_disk_stops_the_run_with_an_explicit_error_and_a_rerun_completes_it(tmp_path):
    config = write_config(tmp_path, tiny_config(camera={**tiny_config()["camera"], "resolution": [160, 120],
                                                        "K": {"fx": 175.0, "fy": 175.0, "cx": 79.5, "cy": 59.5}}))
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "bproc_factory", "render", str(config), "-o", str(out), "-n", "4",
                             "-q"], capture_output=True, text=True, preexec_fn=_limit_file_size,
                            env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 1, result.stderr  # not a traceback and a segfault (139)
    said = " ".join(result.stderr.split())
    assert "Traceback" not in said and ("File too large while writing" in said or "No space" in said), said
    assert "re-run the same command" in said
    written = sorted(p.name for p in (out / "meta").glob("*.json"))
    assert len(written) < 4
    cli("render", config, "-o", out, "-n", 4, "-q", check=True)
    assert sorted(p.name for p in (out / "meta").glob("*.json")) == [f"{i:06d}.json" for i in range(4)]
    assert not list(out.rglob(".*.tmp"))
    cli("validate", out, check=True)
