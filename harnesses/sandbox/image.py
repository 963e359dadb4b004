"""Building the sandbox image from the Dockerfile shipped in this package."""

from __future__ import annotations

import logging
from importlib import resources

from benchdock.harnesses.sandbox.base import SandboxError

log = logging.getLogger("benchdock.sandbox")


def build_image(tag: str, base: str | None = None,
                package: str = "benchdock.harnesses.sandbox") -> None:
    """Build `package`'s Dockerfile (the sandbox's, or a harness's) as `tag`."""
    from benchdock.harnesses.sandbox.docker_backend import docker_client

    client = docker_client(timeout=3600)  # a toolchain image takes minutes
    ctx = resources.files(package)
    buildargs = {"BASE": base} if base else {}
    with resources.as_file(ctx) as path:
        try:
            _, logs = client.images.build(path=str(path), tag=tag, buildargs=buildargs, rm=True)
        except Exception as exc:
            raise SandboxError(f"building {tag} failed: {exc}") from exc
    for chunk in logs:
        if "stream" in chunk:
            log.info(chunk["stream"].rstrip())
    log.info("built %s", tag)
