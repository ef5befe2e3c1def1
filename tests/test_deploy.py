"""The container for the deploy examples (deploy/Dockerfile): it installs every system library the
compiled dependencies load, the Kubernetes and Ray examples use the image it builds, and (where a
container engine runs) it builds and renders. No container engine runs on this project's machines
(`docker` there is only the client), so the last test is skipped there and says so."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sysconfig
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from bproc_factory.project import init_project

DOCKERFILE = REPO / "deploy" / "Dockerfile"
# In python:3.11-slim-bookworm already: Debian's base, and the libraries CPython itself links.
IN_BASE_IMAGE = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libuuid1", "libffi8", "libssl3", "libsqlite3-0",
                 "libbz2-1.0", "liblzma5", "libexpat1", "libtinfo6", "libncursesw6", "libreadline8"}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in DOCKERFILE.read_text().splitlines()
                                          if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in text.splitlines() if line.strip()]


def apt_packages() -> set[str]:
    """Packages the Dockerfile's ``apt-get install`` lines name."""
    names: set[str] = set()
    for kind, args in dockerfile_instructions():
        if kind == "RUN":
            for part in args.split("&&"):
                words = shlex.split(part)
                if words[:2] == ["apt-get", "install"]:
                    names |= {w for w in words[2:] if not w.startswith("-")}
    return names


def system_libraries_loaded_by_dependencies() -> set[str]:
    """Debian packages of the shared libraries that the installed dependencies' binaries link to."""
    site = Path(sysconfig.get_paths()["platlib"])
    binaries = [str(p) for p in site.rglob("*.so*") if p.is_file()]
    batches = [binaries[start:start + 200] for start in range(0, len(binaries), 200)]
    with ThreadPoolExecutor(max_workers=4) as pool:  # ldd is a process per batch: run them side by side
        outputs = list(pool.map(lambda batch: subprocess.run(["ldd", *batch], capture_output=True,
                                                              text=True).stdout, batches))
    paths = {m for out in outputs for m in re.findall(r"=> (/\S+)", out) if not m.startswith(str(site))}
    queries = paths | {str(Path(p).resolve()) for p in paths} | {"/usr" + p for p in paths if p.startswith("/lib")}
    out = subprocess.run(["dpkg", "-S", *sorted(queries)], capture_output=True, text=True).stdout
    return {line.split(":", 1)[0] for line in out.splitlines() if ":" in line}


@pytest.mark.skipif(shutil.which("dpkg") is None or shutil.which("ldd") is None,
                    reason="needs a Debian host (dpkg, ldd) to map libraries to packages")
def test_the_dockerfile_installs_every_system_library_the_dependencies_load():
    needed = system_libraries_loaded_by_dependencies()
    assert "libx11-6" in needed, "bpy's X11 library was not found by ldd"
    missing = needed - IN_BASE_IMAGE - apt_packages()
    assert not missing, f"deploy/Dockerfile's apt-get install lacks {sorted(missing)}"


def test_the_image_installs_the_wheel_and_starts_in_a_starter_project():
    steps = dockerfile_instructions()
    froms = [args for kind, args in steps if kind == "FROM"]
    assert all(f.startswith("python:3.11-") for f in froms), froms
    runs = " ".join(args for kind, args in steps if kind == "RUN")
    assert "pip wheel" in runs and "/wheels/bproc_factory-" in runs and " -e " not in runs  # not editable
    assert "bproc-factory init /project" in runs
    assert ("WORKDIR", "/project") in steps and ("ENTRYPOINT", '["bproc-factory"]') in steps
    env = " ".join(args for kind, args in steps if kind == "ENV")
    assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics" in env  # graphics: libnvoptix for OptiX
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".venv", ".git", "out", "runs"} <= set(ignored)


def test_the_kubernetes_example_renders_a_config_that_exists_in_the_image(tmp_path):
    job = yaml.safe_load((REPO / "deploy" / "k8s-indexed-job.yaml").read_text())
    container = job["spec"]["template"]["spec"]["containers"][0]
    command = container["command"]
    assert command[:2] == ["bproc-factory", "render"]
    project = init_project(tmp_path / "project")  # what `bproc-factory init /project` makes in the image
    assert (project.path / command[2]).is_file(), f"{command[2]} is not in the image's starter project"
    assert "deploy/Dockerfile" in (REPO / "deploy" / "k8s-indexed-job.yaml").read_text()
    assert "deploy/Dockerfile --build-arg EXTRAS=farm" in (REPO / "deploy" / "ray-cluster.yaml").read_text()


def container_engine() -> str | None:
    """``docker`` or ``podman`` when one answers with a running engine, else None."""
    for tool in ("docker", "podman"):
        if shutil.which(tool) and subprocess.run([tool, "info"], capture_output=True, timeout=60).returncode == 0:
            return tool
    return None


@pytest.mark.render
@pytest.mark.skipif(container_engine() is None,
                    reason="no container engine runs on this machine (the docker client has no daemon)")
def test_the_image_builds_and_renders_a_tiny_image(tmp_path):
    engine = container_engine()
    subprocess.run([engine, "build", "-f", str(DOCKERFILE), "-t", "bproc-factory:test", str(REPO)], check=True)
    out = tmp_path / "out"
    out.mkdir(mode=0o777)
    subprocess.run([engine, "run", "--rm", "-v", f"{out}:/out", "bproc-factory:test", "render", "scenario.yaml",
                    "-o", "/out/tiny", "-n", "1", "-q", "--set", "camera.resolution=[80,60]",
                    "--set", "render.samples=2"], check=True)
    assert (out / "tiny" / "coco.json").is_file()

