"""A Docker engine on another machine (DOCKER_HOST tcp:// or ssh://), and what it cannot run.

Benchmarks whose containers bind-mount paths of this machine (a managed venv, the proxy's
socket) declare it (`host_mounts`); against a remote engine they are refused up front with
the reason, instead of failing late and obscurely. This module names no benchmark: the
caller says what does work remotely (`contract/registry.py` derives it from the
declarations).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from benchdock.harnesses.sandbox.base import SandboxError


def remote_engine(environ: Mapping[str, str] | None = None) -> str | None:
    """The DOCKER_HOST of an engine that may be on another machine, or None when it is this
    machine's own (DOCKER_HOST unset, or a unix socket). Any tcp:// or ssh:// URL counts as
    remote, 127.0.0.1 included: a loopback port is as often an ssh tunnel to another machine,
    and nothing in the URL says which."""
    host = (os.environ if environ is None else environ).get("DOCKER_HOST", "").strip()
    if not host or host.startswith(("unix://", "/")):
        return None
    return host


def remote_refusal(harness: str, mounts: str, mode: str = "docker",
                   elsewhere: Sequence[str] = ()) -> str | None:
    """Why `harness` cannot run its sandbox here when it would run in Docker (`mode` docker,
    or auto) on a remote engine: it bind-mounts `mounts` (paths of this machine) into its
    containers, and an engine on another machine cannot see them. `elsewhere` names what
    does run there (the registry knows; the sandbox names no benchmark). None when it can."""
    host = remote_engine()
    if host is None or mode == "local":
        return None
    return (
        f"{harness} cannot run its sandbox on the Docker engine at DOCKER_HOST={host}: it "
        f"bind-mounts paths of this machine into its containers ({mounts}), which an engine "
        "on another machine cannot see. What works there: the plain sandboxed benchmarks "
        f"({', '.join(elsewhere) or 'those that mount nothing of this machine'}). For {harness}, run the benchdock worker on the Docker "
        "machine itself (DOCKER_HOST unset), or run it here with BENCHDOCK_SANDBOX=local "
        "(bubblewrap: less isolated than Docker)")


def refuse_remote_engine(harness: str, mounts: str, mode: str = "docker",
                         elsewhere: Sequence[str] = ()) -> None:
    """Raise `remote_refusal`'s reason, before anything starts: otherwise the run would fail
    late and obscurely (a missing interpreter, a socket that never answers)."""
    why = remote_refusal(harness, mounts, mode, elsewhere)
    if why is not None:
        raise SandboxError(why)
