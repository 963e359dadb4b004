"""A task's image: its prebuilt `docker_image` (pulled when missing and allowed), or its
environment/Dockerfile built once by benchdock and tagged by the folder's content, so an
edited task is rebuilt and an unchanged one never is.

benchdock's own tasks build FROM `benchdock-tbench-base:bookworm` (Debian 12 with the tools
they use and tmux for Terminus-2, bootstrapped locally by `.ci/run` or `benchdock setup
terminal-bench-local`), so building them needs no registry and no network. A task of
someone else's builds FROM whatever it names; on a machine without that registry the build
fails naming the base image.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Callable

from benchdock.harnesses.benchmarks.terminalbench.container import image_exists, safe_tag
from benchdock.harnesses.benchmarks.terminalbench.taskfmt import HarborTask
from benchdock.harnesses.sandbox.base import SandboxError

log = logging.getLogger("benchdock.tbench")

BUILT_REPO = "benchdock-tb"  # benchdock-tb-<task>:<environment hash>
PULL_TIMEOUT_S = 3600
_LOCK = threading.Lock()  # one build or pull at a time: two cores, and the same base layers


def image_tag(task: HarborTask) -> str:
    """The image a task runs in: its docker_image, or the tag benchdock builds it as."""
    if task.docker_image:
        return task.docker_image
    return f"{BUILT_REPO}-{safe_tag(task.name)}:{task.environment_hash()}"


def missing_image_message(image: str, why: str) -> str:
    return (f"the task image {image} is not on this machine and could not be pulled ({why}). "
            f"Get it with `docker pull {image}` where its registry is reachable (on another "
            f"machine: `docker save {image} | gzip > img.tar.gz`, then `docker load < "
            "img.tar.gz` here)")


def pull(image: str, say: Callable[[str], None] = log.info) -> None:
    say(f"pulling {image}")
    try:
        done = subprocess.run(["docker", "pull", "-q", image], capture_output=True, text=True,
                              timeout=PULL_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(missing_image_message(image, str(exc))) from None
    if done.returncode != 0 or not image_exists(image):
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise SandboxError(missing_image_message(image, lines[-1] if lines else
                                                 f"docker pull exited {done.returncode}"))


def ensure_image(task: HarborTask, pull_allowed: bool = True,
                 say: Callable[[str], None] = log.info) -> tuple[str, str]:
    """The task's image, built or pulled if missing; (tag, what was done: "present",
    "built" or "pulled")."""
    tag = image_tag(task)
    with _LOCK:
        if image_exists(tag):
            return tag, "present"
        if task.docker_image and not task.dockerfile.is_file():
            if not pull_allowed:
                raise SandboxError(missing_image_message(tag, "pulling is off: "
                                                         "BENCHDOCK_TBENCH_PULL=0"))
            pull(tag, say)
            return tag, "pulled"
        if task.docker_image and pull_allowed:
            try:  # Harbor prefers the prebuilt image when the task names one
                pull(tag, say)
                return tag, "pulled"
            except SandboxError as exc:
                say(f"{exc}; building environment/Dockerfile instead")
            tag = f"{BUILT_REPO}-{safe_tag(task.name)}:{task.environment_hash()}"
            if image_exists(tag):
                return tag, "present"
        say(f"building {tag} from {task.dockerfile}")
        build(task, tag)
        return tag, "built"


def build(task: HarborTask, tag: str) -> None:
    """`docker build` of the task's environment/ folder (its Dockerfile as written)."""
    from benchdock.harnesses.sandbox.image import build_context

    try:
        build_context(task.path / "environment", tag, {}, (), allow_missing=True)
    except SandboxError as exc:
        raise SandboxError(f"task {task.name}: its environment/Dockerfile did not build: "
                           f"{exc}") from None
