"""Choosing a backend from BENCHDOCK_SANDBOX (docker | local | auto)."""

from __future__ import annotations

from benchdock.harnesses.sandbox.base import Sandbox, SandboxError


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


def open_sandbox(mode: str, image: str, size: int = 2, network: bool = False) -> Sandbox:
    """Start a sandbox pool. `auto` takes Docker when an engine and the image are there.
    `network`: containers on Docker's default bridge instead of none (only for a benchmark
    whose user allowed it; the local sandbox refuses it)."""
    if mode not in ("docker", "local", "auto"):
        raise SandboxError(f"sandbox mode {mode!r} is not valid; choose docker, local or auto")
    if mode == "auto":
        ok, _ = docker_available(image)
        mode = "docker" if ok else "local"
    if mode == "docker":
        from benchdock.harnesses.sandbox.docker_backend import DockerSandbox

        return DockerSandbox(image, size, network=network).start()
    if network:
        raise SandboxError("a sandbox with network needs Docker (BENCHDOCK_SANDBOX=docker "
                           f"and the image {image}); the local sandbox has none")
    from benchdock.harnesses.sandbox.local import LocalSandbox

    return LocalSandbox(size).start()
