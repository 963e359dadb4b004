"""What a Harbor-format run must pull or build before it starts: images, disk, time.

Terminal-Bench 2.0 publishes no total size for its images, and this machine reaches no
registry to measure them, so the per-image figures are assumptions, said as such in the
footprint's basis and overridable: BENCHDOCK_TBENCH_IMAGE_GB (on disk, default 1.5 GB: an
Ubuntu or Python base with a task's tools; tasks with compilers, ML libraries or emulators
are larger) and BENCHDOCK_TBENCH_PULL_GB (transferred, default 0.6 GB, layers compressed).
With the tasks at hand the image names come from their task.toml (`docker_image`), images
already here are left out, and tasks that build from a Dockerfile count as builds (their
base is pulled; the build runs the Dockerfile's own downloads).
"""

from __future__ import annotations

from benchdock.harnesses.benchmarks.terminalbench.taskfmt import HarborTask
from benchdock.harnesses.config import Settings
from benchdock.harnesses.contract.benchmark import Footprint

DEFAULT_IMAGE_GB = 1.5
DEFAULT_PULL_GB = 0.6
WORK_GB = 3.0  # a committed final filesystem and two containers' writable layers at a time
DEFAULT_DOWNLOAD_MBIT_S = 100.0  # BENCHDOCK_DOWNLOAD_MBIT_S, as the online SWE sets


def _local_images() -> set[str] | None:
    try:
        from benchdock.harnesses.sandbox.docker_backend import docker_client

        return {t for img in docker_client().images.list() for t in img.tags}
    except Exception:  # no engine: everything counts as missing
        return None


def footprint(settings: Settings, tasks: int | None, got: list[HarborTask] | None,
              count: int) -> Footprint:
    """What a run of the first `tasks` tasks (all by default) pulls and keeps on disk."""
    from benchdock.harnesses.benchmarks.terminalbench.images import image_tag

    n = min(tasks or count, count) if count else (tasks or 0)
    per_disk = float(settings.var("BENCHDOCK_TBENCH_IMAGE_GB") or DEFAULT_IMAGE_GB)
    per_pull = float(settings.var("BENCHDOCK_TBENCH_PULL_GB") or DEFAULT_PULL_GB)
    mbit_s = float(settings.var("BENCHDOCK_DOWNLOAD_MBIT_S") or DEFAULT_DOWNLOAD_MBIT_S)
    names = [image_tag(t) for t in got[:n]] if got is not None else []
    wanted = list(dict.fromkeys(names))
    here = _local_images() if wanted else None
    present = sum(1 for i in wanted if here is not None and (i in here or f"{i}:latest" in here))
    items = len(wanted) if got is not None else n
    missing = items - present
    builds = sum(1 for t in (got or [])[:n] if not t.docker_image)
    download_gb = missing * per_pull
    basis = (f"assumed {per_disk:g} GB on disk and {per_pull:g} GB transferred per image "
             "(BENCHDOCK_TBENCH_IMAGE_GB, BENCHDOCK_TBENCH_PULL_GB; no published total for "
             "Terminal-Bench 2.0's images, none measured here)")
    basis += ("; image names from the tasks' task.toml" if got is not None else
              f"; the tasks are not here yet, so {n} images are counted")
    if builds:
        basis += f"; {builds} task(s) build from environment/Dockerfile (their bases pulled)"
    return Footprint(
        what="task images (each task.toml's docker_image, or its environment/Dockerfile)",
        items=items, present=present, download_gb=round(download_gb, 1),
        disk_gb=round(missing * per_disk + WORK_GB, 1),
        download_minutes=round(download_gb * 8000 / mbit_s / 60, 1),
        basis=basis + f"; pull time at {mbit_s:.0f} Mbit/s (BENCHDOCK_DOWNLOAD_MBIT_S)",
        examples=wanted[:3])
