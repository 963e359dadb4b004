"""What an online SWE-bench run costs before it starts: images to pull, disk, time.

Sizes are published figures, not measured here (this machine reaches no Docker Hub):
- Verified, all 500 instance images: "over 200 GiB of storage and 100+ GiB of transfer"
  (206 GiB; logic-star-ai/swe-bench-compressed's README); SWEBench-verified-mini's README
  says 130 GB. The larger figure is used, so that a plan does not run out of disk.
- mini (50 of Verified, django and sphinx only): "5GB instead of 130GB of storage"
  (mariushobbhahn/SWEBench-verified-mini's README); its transfer is not published and is
  taken at Verified's transfer/storage ratio.
- Lite: nothing published found; Verified's per-instance means (same kind of images).
- SWE-bench's README asks for "at least 120GB of free storage, 16GB of RAM, and 8 CPU
  cores" for its harness.
Each image is 1-3 GB as Docker lists it, but instances of a repository share their
environment layers, so the set's total is far below images x 3 GB; a part of a set is
scaled by its share of instances. Time per instance is the benchmark's declared cost
(`requests_per_task` etc.), which plan_evaluation replaces by measured figures once runs on
the endpoint exist: with mini-swe-agent's 250-step limit, a Verified run is about a day per
model at ~100 tokens/s (the issue's figure on the seed's hardware), several days at 20.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchdock.harnesses.benchmarks.swe.online import OnlineInstance, Variant, image_name
from benchdock.harnesses.config import Settings
from benchdock.harnesses.contract.benchmark import Footprint

GIB = 1.073741824  # GB per GiB
WORK_GB = 4.0  # two instance containers' writable layers at a time, logs, the dataset
DEFAULT_DOWNLOAD_MBIT_S = 100.0  # BENCHDOCK_DOWNLOAD_MBIT_S, for the pull-time estimate


@dataclass(frozen=True)
class Published:
    disk_gb: float  # all the set's images, on disk
    download_gb: float  # transferred to pull them
    source: str


VERIFIED = Published(206 * GIB, 100 * GIB, (
    "Verified's 500 images: 206 GiB on disk, 100+ GiB transfer (logic-star-ai/"
    "swe-bench-compressed README; SWEBench-verified-mini's README says 130 GB)"))
PUBLISHED: dict[str, Published] = {
    "verified": VERIFIED,
    "mini": Published(5.0, 5.0 * VERIFIED.download_gb / VERIFIED.disk_gb, (
        "mini's 50 images: 5 GB on disk (mariushobbhahn/SWEBench-verified-mini README); "
        "transfer at Verified's transfer/storage ratio")),
    "lite": Published(300 * VERIFIED.disk_gb / 500, 300 * VERIFIED.download_gb / 500, (
        "no published figure for Lite: Verified's per-instance means (206 GiB and 100 GiB "
        "for 500 images, logic-star-ai/swe-bench-compressed README)")),
}


def _local_images() -> set[str] | None:
    """Tags of the images here, or None when Docker does not answer."""
    try:
        from benchdock.harnesses.sandbox.docker_backend import docker_client

        return {t for img in docker_client().images.list() for t in img.tags}
    except Exception:  # no engine: everything counts as missing
        return None


def footprint(settings: Settings, variant: Variant, tasks: int | None,
              instances: list[OnlineInstance] | None) -> Footprint:
    """What a run of the first `tasks` instances (all by default) pulls and needs on disk.
    With the instances at hand it names their images and leaves out those already here;
    without (the dataset not downloaded yet) it counts the published set."""
    pub = PUBLISHED[variant.key]
    n = min(tasks or variant.count, variant.count)
    per_disk, per_dl = pub.disk_gb / variant.count, pub.download_gb / variant.count
    images = ([i.image for i in instances[:n]] if instances is not None else [])
    wanted = list(dict.fromkeys(images))
    here = _local_images() if wanted else None
    present = sum(1 for img in wanted if here is not None and
                  (img in here or f"{img}:latest" in here))
    items = len(wanted) if instances is not None else n
    missing = items - present
    mbit_s = float(settings.var("BENCHDOCK_DOWNLOAD_MBIT_S") or DEFAULT_DOWNLOAD_MBIT_S)
    download_gb = missing * per_dl
    basis = pub.source + ("; image names from the dataset" if instances is not None else
                          f"; {variant.dataset} not downloaded yet, so the published count "
                          f"({variant.count}) and sizes")
    if n < variant.count:
        basis += f"; {n} of {variant.count} instances, sizes scaled by that share"
    return Footprint(
        what=f"{variant.title} instance images (swebench/sweb.eval.x86_64.*, Docker Hub)",
        items=items, present=present, download_gb=round(download_gb, 1),
        disk_gb=round(missing * per_disk + WORK_GB, 1),
        download_minutes=round(download_gb * 8000 / mbit_s / 60, 1),
        basis=basis + f"; pull time at {mbit_s:.0f} Mbit/s (BENCHDOCK_DOWNLOAD_MBIT_S), "
                      "transfer only",
        examples=wanted[:3] or [image_name("django__django-11099")])
