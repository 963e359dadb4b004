"""The projects of the local instance set, and their images.

A project is a real open-source Python package whose PyPI sdist ships its test suite and
needs only pytest. benchdock downloads the pinned sdist with pip, checks its hash, and
builds the project's image itself: the sdist as a git repository at /opt/benchdock/testbed
(one commit, fixed author and date, so its hash is the same on every machine) on the
bootstrapped base, with git and pytest from Debian (`image/Dockerfile`). Nothing else goes
in: the agent and the grader run the project with the base image's Python.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from pydantic import BaseModel

from benchdock.harnesses.config import Settings

log = logging.getLogger("benchdock.swe")

IMAGE_REVISION = 1  # bump when image/Dockerfile changes
DEFAULT_BASE = "benchdock-base:bookworm"


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

    def image(self) -> str:
        return f"benchdock-swe-{self.name}:{self.version}-{IMAGE_REVISION}"


PROJECTS: dict[str, Project] = {
    "toolz": Project(
        name="toolz", version="1.2.0", license="BSD-3-Clause", repo="pytoolz/toolz",
        sha256="9667a038e9d6ecba37995e26cb2f59ec6420b6ad8dd9677de59db9b956b08490",
        sources=("toolz/itertoolz.py", "toolz/functoolz.py", "toolz/dicttoolz.py",
                 "toolz/recipes.py", "toolz/utils.py"),
        test_dirs=("toolz/tests", "toolz/sandbox/tests")),
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


def build_project_image(settings: Settings, project: Project, base: str | None = None,
                        say: Callable[[str], None] = log.info) -> str:
    """Build the project's image once (kept when its tag exists); its tag."""
    from benchdock.harnesses.sandbox.image import build_context

    tag = project.image()
    if image_exists(tag):
        return tag
    sdist = fetch_sdist(settings, project, say)
    say(f"building {tag} from {sdist.name} on {base or DEFAULT_BASE}")
    with tempfile.TemporaryDirectory(prefix="benchdock-swe-build-") as tmp:
        ctx = Path(tmp)
        dockerfile = resources.files("benchdock.harnesses.swe").joinpath("image/Dockerfile")
        (ctx / "Dockerfile").write_text(dockerfile.read_text())
        shutil.copy(sdist, ctx / "project.tar.gz")
        build_context(ctx, tag, {"BASE": base or DEFAULT_BASE}, (), False)
    return tag
