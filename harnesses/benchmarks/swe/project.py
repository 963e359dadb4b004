"""The projects of the local instance set, and their images.

A project is a real open-source Python package whose PyPI sdist ships its test suite and
needs only pytest. benchdock downloads the pinned sdist with pip and checks its hash; the
image (`Dockerfile`: the bootstrapped base's Python with git and pytest) holds no project:
each container gets the sdist streamed into its /testbed (container.py).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from benchdock.harnesses.config import Settings

log = logging.getLogger("benchdock.swe")

IMAGE = "benchdock-swe-python:1"  # bump the tag when the Dockerfile changes
DEFAULT_BASE = "benchdock-base:bookworm"
DEFAULT_PROJECT = "toolz"  # CI's: the smallest suite with the quickest construction


class Project(BaseModel):
    """One project of the local set: its sdist, where its code and tests are."""

    name: str  # the PyPI name
    version: str
    sha256: str  # of the sdist, as PyPI serves it
    license: str
    repo: str  # the SWE-bench `repo` field: the upstream repository it comes from
    sources: tuple[str, ...]  # files bugs may be injected into (relative to the testbed)
    test_dirs: tuple[str, ...]  # test files live here; bugs never touch them

    @property
    def sdist_name(self) -> str:
        return f"{self.name}-{self.version}.tar.gz"


PROJECTS: dict[str, Project] = {
    "toolz": Project(
        name="toolz", version="1.2.0", license="BSD-3-Clause", repo="pytoolz/toolz",
        sha256="9667a038e9d6ecba37995e26cb2f59ec6420b6ad8dd9677de59db9b956b08490",
        sources=("toolz/itertoolz.py", "toolz/functoolz.py", "toolz/dicttoolz.py",
                 "toolz/recipes.py", "toolz/utils.py"),
        test_dirs=("toolz/tests", "toolz/sandbox/tests")),
    # built on request (BENCHDOCK_SWE_LOCAL_PROJECT=tabulate benchdock setup swe-local), not in CI
    "tabulate": Project(
        name="tabulate", version="0.10.0", license="MIT", repo="astanin/python-tabulate",
        sha256="e2cfde8f79420f6deeffdeda9aaec3b6bc5abce947655d17ac662b126e48a60d",
        sources=("tabulate/__init__.py",), test_dirs=("test",)),
}


def swe_home(settings: Settings) -> Path:
    return settings.home / "swe"


def fetch_sdist(settings: Settings, project: Project, say: Callable[[str], None] = log.info) -> Path:
    """The project's sdist, downloaded once with pip (PyPI or the configured index) and
    checked against its pinned hash."""
    dest = swe_home(settings) / "sdists"
    path = dest / project.sdist_name
    if not path.is_file():
        dest.mkdir(parents=True, exist_ok=True)
        say(f"downloading {project.sdist_name} with pip")
        with tempfile.TemporaryDirectory(dir=dest) as tmp:
            done = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                 "--disable-pip-version-check", "-q", "--dest", tmp,
                 f"{project.name}=={project.version}"], capture_output=True, text=True)
            got = Path(tmp) / project.sdist_name
            if done.returncode != 0 or not got.is_file():
                raise RuntimeError(f"could not download {project.sdist_name}: "
                                   f"{(done.stderr or done.stdout)[-1000:]}")
            shutil.move(str(got), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != project.sha256:
        path.unlink()
        raise RuntimeError(f"{project.sdist_name} has sha256 {digest}, not the pinned "
                           f"{project.sha256}; removed it")
    return path


def image_exists(tag: str) -> bool:
    import docker.errors

    from benchdock.harnesses.sandbox.docker_backend import docker_client

    try:
        docker_client().images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def swe_image(settings: Settings) -> str:
    return settings.var("BENCHDOCK_SWE_IMAGE") or IMAGE


def ensure_image(settings: Settings, base: str | None = None,
                 say: Callable[[str], None] = log.info) -> str:
    """Build the image once (`benchdock build-image --harness swe-local` does the same)."""
    from benchdock.harnesses.sandbox.image import build_image

    tag = swe_image(settings)
    if not image_exists(tag):
        say(f"building {tag} on {base or DEFAULT_BASE}")
        build_image(tag, base or DEFAULT_BASE, package="benchdock.harnesses.benchmarks.swe")
    return tag
