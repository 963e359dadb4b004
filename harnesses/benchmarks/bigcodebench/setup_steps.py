"""What `benchdock setup bigcodebench` installs: the evaluation image and the data.

- the image (`Dockerfile` here, `benchdock build-image --harness bigcodebench`): Python 3.11
  with the libraries the tasks import; the base is BENCHDOCK_BIGCODEBENCH_BASE_IMAGE, else
  the Dockerfile's python:3.11-slim (benchdock-base:bookworm on machines with no registry);
- the data: bigcodebench 0.2.5's own loader (`get_bigcodebench`, full and hard), run in a
  venv of its own with the few packages that loader imports (bigcodebench itself installs
  vllm, transformers, ...; only its data module is needed), which caches the hub's files
  where `data.py` reads them. Skipped when BIGCODEBENCH_OVERRIDE_PATH names a local copy.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable

from benchdock.harnesses.benchmarks.bigcodebench import data
from benchdock.harnesses.config import Settings
from benchdock.harnesses.contract.benchmark import ImageSpec, SetupStep
from benchdock.harnesses.envs import managed as envs
from benchdock.harnesses.envs.managed import EnvironmentMissing

IMAGE = "benchdock-bigcodebench:1"
SLIM_IMAGE = "benchdock-bigcodebench-slim:1"
# measured on this project's machine (2 cores under other work, load ~24, behind a proxy):
# 4.06 GB; ~45 min from scratch (the pip step 42 min, downloading ~1.5 GB of wheels). The
# slim image: 658 MB, ~11 min.
IMAGE_SIZE = "~4 GB"
IMAGE_BUILD = "~45 min"

DATA_ENV = envs.EnvSpec(
    name="bigcodebench-data-0.2.5",
    steps=[("bigcodebench 0.2.5 (its data loader only)", ["--no-deps", "bigcodebench==0.2.5"]),
           ("what its data module imports", ["datasets==2.17.0", "appdirs==1.4.4",
                                             "tempdir==0.7.1", "wget==3.2"])],
    setup_hint="run `benchdock setup bigcodebench` once")
LOAD = ("from bigcodebench.data import get_bigcodebench\n"
        "for subset in ('full', 'hard'):\n"
        "    print(subset, len(get_bigcodebench(subset=subset)), flush=True)\n")


def images() -> list[ImageSpec]:
    return [
        ImageSpec(name="bigcodebench", package="benchdock.harnesses.benchmarks.bigcodebench",
                  tag=IMAGE, what=(f"BigCodeBench's evaluation libraries ({IMAGE_SIZE}, "
                                   f"{IMAGE_BUILD} to build)")),
        ImageSpec(name="bigcodebench-slim",
                  package="benchdock.harnesses.benchmarks.bigcodebench.slim", tag=SLIM_IMAGE,
                  what="only what CI's BigCodeBench sample imports"),
    ]


def fetch_data(settings: Settings, say: Callable[[str], None]) -> str:
    """The hub's data through bigcodebench's own loader; what happened, in a sentence."""
    if os.environ.get(data.OVERRIDE):
        return f"data: {data.OVERRIDE}={os.environ[data.OVERRIDE]} (the hub is not asked)"
    env = envs.ensure(settings.envs_dir, DATA_ENV, say)
    say("loading BigCodeBench (full and hard) from the Hugging Face hub with bigcodebench's "
        "own loader")
    res = subprocess.run([str(env.python), "-c", LOAD], capture_output=True, text=True,
                         timeout=1800)
    if res.returncode != 0:
        raise EnvironmentMissing(
            "bigcodebench could not load its data from the Hugging Face hub (is it reachable "
            f"from here?); set {data.OVERRIDE} to a local copy of BigCodeBench {data.VERSION} "
            f"instead (the Hard subset has no other source):\n{res.stderr[-1500:]}")
    return f"data: {res.stdout.strip()} tasks, cached in {data.cache_file('full').parent}"


def setup_step(settings: Settings) -> SetupStep:
    def run(say: Callable[[str], None]) -> str:
        from benchdock.harnesses.sandbox.base import SandboxError
        from benchdock.harnesses.sandbox.image import build_image

        t0 = time.monotonic()
        tag = settings.var("BENCHDOCK_BIGCODEBENCH_IMAGE") or IMAGE
        say(f"building {tag} ({IMAGE_SIZE}; {IMAGE_BUILD} on a first build)")
        try:
            built = build_image(tag, base=settings.var("BENCHDOCK_BIGCODEBENCH_BASE_IMAGE"),
                                package="benchdock.harnesses.benchmarks.bigcodebench")
        except SandboxError as exc:
            raise EnvironmentMissing(str(exc)) from None
        image = f"image: {tag} ({built.image_id[:19]}, {time.monotonic() - t0:.0f} s)"
        try:
            return f"{image}; {fetch_data(settings, say)}"
        except EnvironmentMissing as exc:
            raise EnvironmentMissing(f"{image} is built; the data are not: {exc}") from None

    return SetupStep(name="bigcodebench", what=(
        f"BigCodeBench's image ({IMAGE_SIZE}, {IMAGE_BUILD}) and data (the Hugging Face hub, "
        f"or {data.OVERRIDE})"), run=run)
