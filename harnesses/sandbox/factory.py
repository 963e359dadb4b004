"""Choosing a backend from BENCHDOCK_SANDBOX (docker | local | auto)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from benchdock.harnesses.sandbox.base import Sandbox, SandboxError

# what runs against an engine on another machine: each sample's code is sent over the API
# (the sandbox runner's stdin), nothing of this machine is mounted
REMOTE_OK = ("humaneval", "humaneval-plus", "mbpp-plus", "repoqa-*", "testgen-humaneval-plus")


def remote_engine(environ: Mapping[str, str] | None = None) -> str | None:
    """The DOCKER_HOST of an engine that may be on another machine, or None when it is this
    machine's own (DOCKER_HOST unset, or a unix socket). Any tcp:// or ssh:// URL counts as
    remote, 127.0.0.1 included: a loopback port is as often an ssh tunnel to another machine,
    and nothing in the URL says which."""
    host = (os.environ if environ is None else environ).get("DOCKER_HOST", "").strip()
    if not host or host.startswith(("unix://", "/")):
        return None
    return host


def remote_refusal(harness: str, mounts: str, mode: str = "docker") -> str | None:
    """Why `harness` cannot run its sandbox here when it would run in Docker (`mode` docker,
    or auto) on a remote engine: it bind-mounts `mounts` (paths of this machine) into its
    containers, and an engine on another machine cannot see them. None when it can."""
    host = remote_engine()
    if host is None or mode == "local":
        return None
    return (
        f"{harness} cannot run its sandbox on the Docker engine at DOCKER_HOST={host}: it "
        f"bind-mounts paths of this machine into its containers ({mounts}), which an engine "
        "on another machine cannot see. What works there: the plain sandboxed benchmarks "
        f"({', '.join(REMOTE_OK)}). For {harness}, run the benchdock worker on the Docker "
        "machine itself (DOCKER_HOST unset), or run it here with BENCHDOCK_SANDBOX=local "
        "(bubblewrap: less isolated than Docker)")


def refuse_remote_engine(harness: str, mounts: str, mode: str = "docker") -> None:
    """Raise `remote_refusal`'s reason, before anything starts: otherwise the run would fail
    late and obscurely (a missing interpreter, a socket that never answers)."""
    why = remote_refusal(harness, mounts, mode)
    if why is not None:
        raise SandboxError(why)


def docker_available(image: str | None = None) -> tuple[bool, str]:
    """Whether an engine answers (and, if given, has `image`); the reason when not."""
    try:
        from benchdock.harnesses.sandbox.docker_backend import docker_client

        client = docker_client(timeout=5)
        if image:
            client.images.get(image)
    except SandboxError as exc:
        return False, str(exc)
    except Exception as exc:
        return False, f"image {image!r} is not available: {exc}"
    return True, "ok"


def open_sandbox(mode: str, image: str, size: int = 2) -> Sandbox:
    """Start a sandbox pool. `auto` takes Docker when an engine and the image are there."""
    if mode not in ("docker", "local", "auto"):
        raise SandboxError(f"sandbox mode {mode!r} is not valid; choose docker, local or auto")
    if mode == "auto":
        ok, _ = docker_available(image)
        mode = "docker" if ok else "local"
    if mode == "docker":
        from benchdock.harnesses.sandbox.docker_backend import DockerSandbox

        return DockerSandbox(image, size).start()
    from benchdock.harnesses.sandbox.local import LocalSandbox

    return LocalSandbox(size).start()
