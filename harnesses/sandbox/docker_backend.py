"""The Docker backend: each runner is a long-lived container that executes many samples,
so container start-up is paid once per runner, not once per sample.

Containers have no network, a read-only root with a small tmpfs, a non-root user, no
capabilities, and memory/CPU/PID limits. They are created with StdinOnce and AutoRemove:
if benchdock dies, the attach stream closes, the runner sees EOF, the container exits and
Docker removes it. `reap_orphans` clears any left over from a crash of the engine itself.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import socket
import struct
import threading
from collections.abc import Mapping
from typing import Any

from benchdock.harnesses.sandbox.base import RUNNER_SOURCE, Channel, Sandbox, SandboxError
from benchdock.harnesses.sandbox.remote import remote_engine

log = logging.getLogger("benchdock.sandbox")
LABEL = "org.benchdock.sandbox"
# CPU weights (`docker --cpu-shares`): Docker's default, and the lowest it takes, given to the
# pool while the model generates. A weight counts against sibling cgroups only: a model served
# from a container on this engine (or a systemd service beside Docker's scopes) keeps the
# CPU; a model run by hand on the host competes with Docker's cgroup as a whole.
DEFAULT_CPU_SHARES = 1024
BACKGROUND_CPU_SHARES = 2


@functools.cache
def _client_class() -> Any:
    """docker-py's client, but an engine's own CA (DOCKER_CERT_PATH/ca.pem) is the one that
    verifies it: requests lets REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE in the environment
    replace a session's CA on every request (psf/requests#3829), and where those are set (a
    TLS-intercepting proxy's bundle) a tcp:// engine with mutual TLS would never verify."""
    import docker

    class EngineApi(docker.APIClient):  # type: ignore[misc]
        def merge_environment_settings(self, url: str, proxies: Any, stream: Any, verify: Any,
                                       cert: Any) -> Any:
            if verify is None and isinstance(self.verify, str):
                verify = self.verify
            return super().merge_environment_settings(url, proxies, stream, verify, cert)

    class EngineClient(docker.DockerClient):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.api = EngineApi(*args, **kwargs)

    return EngineClient


def docker_client(timeout: float = 10.0, environment: Mapping[str, str] | None = None) -> Any:
    """The engine DOCKER_HOST names (this machine's socket by default), over mutual TLS when
    DOCKER_TLS_VERIFY / DOCKER_CERT_PATH say so; `environment` instead of os.environ. An
    ssh:// engine is reached through the system's `ssh` (its config, keys and agent, as the
    Docker CLI does), though docker-py imports paramiko for it all the same."""
    host = (os.environ if environment is None else environment).get("DOCKER_HOST", "")
    if host.startswith("ssh://") and importlib.util.find_spec("paramiko") is None:
        raise SandboxError(f"DOCKER_HOST={host} needs paramiko, which docker-py imports for "
                           "ssh:// (`pip install paramiko`; the connection itself is the "
                           "system's ssh)")
    try:
        client = _client_class().from_env(timeout=int(timeout), environment=environment,
                                          use_ssh_client=host.startswith("ssh://"))
        client.ping()
    except Exception as exc:
        raise SandboxError(f"no Docker engine answers: {exc}") from exc
    return client


class _ContainerChannel(Channel):
    """`command` defaults to the sandbox runner; a reference harness passes its own program,
    the read-only `volumes` it needs and its `environment`, under the same confinement."""

    def __init__(self, client: Any, image: str, limits: dict[str, Any],
                 command: list[str] | None = None, volumes: dict[str, dict[str, str]] | None = None,
                 environment: dict[str, str] | None = None) -> None:
        super().__init__()
        import docker.errors

        env = {"BENCHDOCK_RUNNER_DIR": "/tmp", "BENCHDOCK_RUNNER_WIPE": "/tmp:/dev/shm",
               "PYTHONDONTWRITEBYTECODE": "1", **(environment or {})}
        try:
            self.container = client.containers.create(
                image,
                command=command or ["python3", "-u", "-c", RUNNER_SOURCE],
                volumes=volumes or {},
                stdin_open=True,
                detach=False,
                auto_remove=True,
                network_mode=limits.get("network", "none"),
                read_only=True,
                tmpfs={"/tmp": f"rw,exec,nosuid,size={limits['tmpfs']}"},
                user="65534:65534",
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                mem_limit=limits["memory"],
                memswap_limit=limits["memory"],
                nano_cpus=int(limits["cpus"] * 1e9),
                pids_limit=limits["pids"],
                cpu_shares=limits.get("cpu_shares"),
                shm_size=limits.get("shm", "64m"),
                environment=env,
                labels={LABEL: "1", f"{LABEL}.owner": f"{socket.gethostname()}:{os.getpid()}"},
            )
        except docker.errors.ImageNotFound as exc:
            raise SandboxError(
                f"sandbox image {image!r} not found; build it with "
                f"`benchdock build-image` (or `docker build -t {image} <benchdock>/harnesses/sandbox`)"
            ) from exc
        except docker.errors.APIError as exc:
            raise SandboxError(f"could not create a sandbox container: {exc}") from exc
        params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        self.sock = self.container.attach_socket(params=params)
        self.raw = getattr(self.sock, "_sock", self.sock)
        self.container.start()
        threading.Thread(target=self._pump, daemon=True).start()

    def _recv_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.raw.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _pump(self) -> None:
        pending = b""
        try:
            while True:
                stream, _, _, _, size = struct.unpack(">BBBBI", self._recv_exact(8))
                data = self._recv_exact(size)
                if stream != 1:
                    continue
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    self.lines.put(line.decode("utf-8", "replace"))
        except (EOFError, OSError):
            pass
        self.lines.put(None)

    def send(self, data: bytes) -> None:
        self.raw.sendall(data)

    def close(self) -> None:
        try:
            self.raw.close()
        except OSError:
            pass
        try:
            self.container.remove(force=True)
        except Exception:  # already gone (AutoRemove) or engine away: nothing left to do
            pass


class DockerSandbox(Sandbox):
    kind = "docker"

    # 5 GB: EvalPlus limits the code under test to 4 GB of address space (its own
    # reliability_guard); the container must not run out first, or the kernel kills a
    # process instead of the code getting EvalPlus's MemoryError
    def __init__(
        self, image: str, size: int = 2, *, memory: str = "5g", cpus: float = 1.0,
        pids: int = 256, tmpfs: str = "512m", network: bool = False,
    ) -> None:
        super().__init__(size)
        self.image = image
        self.client = docker_client()
        self.limits = {"memory": memory, "cpus": cpus, "pids": pids, "tmpfs": tmpfs,
                       "network": "bridge" if network else "none"}

    @property
    def isolation(self) -> str:  # type: ignore[override]
        lim = self.limits
        net = "no network" if lim["network"] == "none" else "NETWORK (allowed by the user)"
        return (f"docker ({self.image}): {net}, read-only root, user 65534, no "
                f"capabilities, {lim['memory']} memory, {lim['cpus']} CPU, {lim['pids']} "
                f"processes, {lim['tmpfs']} /tmp; one long-lived container per runner, "
                "cleaned after each job")

    def _open_channel(self) -> Channel:
        shares = BACKGROUND_CPU_SHARES if self.background else None
        return _ContainerChannel(self.client, self.image, {**self.limits, "cpu_shares": shares})

    def set_background(self, on: bool) -> None:
        """Besides each job's niceness (which counts inside the container only), the pool's
        containers get the lowest CPU weight while `on`."""
        super().set_background(on)
        shares = BACKGROUND_CPU_SHARES if on else DEFAULT_CPU_SHARES
        with self._lock:
            chans = [ch for ch in self._all if isinstance(ch, _ContainerChannel)]
        for ch in chans:
            try:
                ch.container.update(cpu_shares=shares)
            except Exception as exc:  # a container that is gone is replaced with the flag read
                log.warning("could not set cpu-shares %d on a sandbox container: %s", shares, exc)


def open_container_channel(image: str, command: list[str], volumes: dict[str, dict[str, str]],
                           environment: dict[str, str], memory: str = "4g", cpus: float = 2.0,
                           pids: int = 512, tmpfs: str = "1g") -> Channel:
    """One confined container running `command`, talking JSON lines on stdin/stdout.
    `volumes` are paths of this machine: refused on a remote engine, which cannot see them
    (the harness's own check says so earlier, at the start of its run; this is the net)."""
    host = remote_engine()
    if volumes and host:
        raise SandboxError(f"cannot bind-mount this machine's {', '.join(sorted(volumes))} "
                           f"into a container on the remote Docker engine {host}")
    limits = {"memory": memory, "cpus": cpus, "pids": pids, "tmpfs": tmpfs}
    return _ContainerChannel(docker_client(), image, limits, command, volumes, environment)


def owner_label() -> dict[str, str]:
    """The label naming this process as the owner of a container or image it makes."""
    return {f"{LABEL}.owner": f"{socket.gethostname()}:{os.getpid()}"}


def _owner_gone(labels: dict[str, str] | None, host: str) -> bool:
    """Whether the owner named in `labels` was a process of this host that has ended (an
    owner on another machine sharing the engine is not ours to judge)."""
    h, _, pid = (labels or {}).get(f"{LABEL}.owner", "").partition(":")
    if h != host or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def reap_orphans() -> int:
    """Remove sandbox containers, and the images made from them (Terminal-Bench's committed
    final filesystems), whose owning process on this host is gone."""
    try:
        client = docker_client()
    except SandboxError:
        return 0
    host = socket.gethostname()
    n = 0
    for c in client.containers.list(all=True, filters={"label": LABEL}):
        if _owner_gone(c.labels, host):
            try:
                c.remove(force=True)
                n += 1
            except Exception:
                pass
    for img in client.images.list(filters={"label": f"{LABEL}.owner"}):
        if _owner_gone(img.labels, host):
            try:
                client.images.remove(img.id, force=True)
                n += 1
            except Exception:
                pass
    return n
