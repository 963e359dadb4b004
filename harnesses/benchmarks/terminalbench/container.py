"""The task's containers: one where the agent works, one where the verifier runs.

The agent's container is started by benchdock from the task's image with task.toml's
resources (cpus, memory_mb; storage_mb watched by the session) and network (`no-network`:
none at all; `public`: the engine's default bridge), root inside as Harbor's are, but no
capabilities beyond the few a system task needs (chown, file ownership, setuid/setgid for
su and cron, kill, binding low ports), no new privileges, a process limit, an init that reaps
orphans, and the sandbox's label (so `reap_orphans` removes it if benchdock dies).

When the agent has finished (or was stopped), every process in its container is killed and
the container's filesystem is committed to a throw-away image. The verifier runs in a fresh
container of that image: no network, no agent process alive anywhere, /tests and
/logs/verifier emptied by benchdock before the task's tests are copied in, and the reward
read only after every process of that container has been killed. A reward file the agent
wrote is gone before the tests start; one a leftover process of the agent could write has
no process left to write it.
"""

from __future__ import annotations

import io
import logging
import os
import re
import socket
import subprocess
import tarfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchdock.harnesses.sandbox.base import SandboxError
from benchdock.harnesses.sandbox.docker_backend import LABEL, docker_client, owner_label

CAPS = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
        "NET_BIND_SERVICE"]
PIDS = 1024
KEEP_ALIVE = ["sh", "-c", "sleep infinity"]  # Harbor's compose command for the main service
FINAL_REPO = "benchdock-tb-final"  # the committed filesystems (removed after verification)
log = logging.getLogger(__name__)
LOG_DIRS = "mkdir -p /logs/agent /logs/verifier && chmod 777 /logs /logs/agent /logs/verifier"


def isolation_text() -> str:
    return ("docker (each task's image), one container for the agent with task.toml's cpus, "
            "memory and network (no-network: none), root without capabilities beyond "
            f"{', '.join(c.lower() for c in CAPS)}, no new privileges, {PIDS} processes; its "
            "final filesystem committed and verified in a fresh network-less container "
            "where no agent process runs; all removed by benchdock at the end, on cancel and "
            "on error")


def host_cpus() -> float:
    return float(os.cpu_count() or 1)


@dataclass(eq=False)
class TaskContainer:
    """A running container of a task's image."""

    id: str
    image: str
    committed: list[str] = field(default_factory=list)  # images made from it

    def exec(self, script: str, timeout_s: float, workdir: str | None = None,
             env: dict[str, str] | None = None) -> tuple[int, str]:
        """Run `script` with bash as root; (exit status, stdout+stderr). One that overruns
        is killed in the container (status 137)."""
        cmd = ["docker", "exec", "-i", "-u", "root"]
        if workdir:
            cmd += ["-w", workdir]
        for key, value in (env or {}).items():
            cmd += ["-e", f"{key}={value}"]
        cmd += [self.id, "timeout", "-s", "KILL", str(max(1, int(timeout_s))), "bash", "-c",
                script]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout_s + 60, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"docker exec in {self.id[:12]} did not return") from exc
        return done.returncode, (done.stdout + done.stderr).decode("utf-8", "replace")

    def put_dir(self, source: Path, target: str) -> None:
        """Copy a host folder's contents into `target` (created), owned by root."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for path in sorted(source.rglob("*")):
                if "__pycache__" in path.parts:
                    continue
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(source)))
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                if path.is_file():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
        code, out = self.exec(f"mkdir -p '{target}'", 60)
        if code != 0:
            raise SandboxError(f"could not make {target} in {self.id[:12]}: {out[-300:]}")
        if not docker_client().api.put_archive(self.id, target, buf.getvalue()):
            raise SandboxError(f"could not copy {source} into {self.id[:12]}:{target}")

    def read_dir(self, path: str, limit: int = 2_000_000) -> dict[str, bytes]:
        """The regular files under `path` (the container may be stopped), by relative name;
        {} when it does not exist."""
        import docker.errors

        try:
            stream, _ = docker_client().api.get_archive(self.id, path)
            raw = b"".join(stream)
        except docker.errors.NotFound:
            return {}
        out: dict[str, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            for m in tar.getmembers():
                if m.isfile() and m.size <= limit:
                    f = tar.extractfile(m)
                    if f is not None:
                        out[m.name.split("/", 1)[1] if "/" in m.name else m.name] = f.read()
        return out

    def kill(self) -> None:
        """End every process in the container (it stays, stopped, until removed)."""
        try:
            c = docker_client().containers.get(self.id)
            if c.status in ("running", "paused"):
                c.kill()
        except Exception:  # already stopped or gone
            pass

    def rw_size_mb(self) -> float | None:
        """The writable layer's size (what the task wrote), or None if not known."""
        try:
            info = docker_client().api.inspect_container(self.id, size=True)
        except TypeError:  # an SDK without the size flag: the raw endpoint
            try:
                info = docker_client().api._result(docker_client().api._get(
                    docker_client().api._url("/containers/{0}/json", self.id),
                    params={"size": 1}), True)
            except Exception:
                return None
        except Exception:
            return None
        size = info.get("SizeRw")
        return None if size is None else float(size) / 1e6

    def commit(self) -> str:
        """The container's filesystem as an image of its own (for the verifier)."""
        tag = uuid.uuid4().hex[:16]
        try:
            img: Any = docker_client().containers.get(self.id).commit(
                repository=FINAL_REPO, tag=tag,
                conf={"Labels": {LABEL: "1", **owner_label()}})
        except Exception as exc:
            raise SandboxError(f"could not commit the agent's container {self.id[:12]}: "
                               f"{exc}") from exc
        self.committed.append(f"{FINAL_REPO}:{tag}")
        return str(img.id)

    def remove(self) -> None:
        import docker.errors

        try:
            docker_client(REMOVE_TIMEOUT_S).containers.get(self.id).remove(force=True)
        except docker.errors.NotFound:
            pass
        except Exception as exc:  # the engine is away or slow (its labels let reap_orphans
            # remove it once this process has ended)
            log.warning("could not remove container %s: %s", self.id[:12], exc)
        for image in self.committed:
            remove_image(image)
        self.committed.clear()


REMOVE_TIMEOUT_S = 120.0  # deleting a committed filesystem's layers on a loaded engine took
# longer than docker_client's 10 s default (CI, load ~40): the image stayed behind


def remove_image(image: str) -> None:
    """Remove `image`, trying three times on a slow or busy engine; one that still stays
    is logged with the engine's error, and its owner label lets `reap_orphans` remove it
    once this process has ended."""
    import docker.errors

    for attempt in range(3):
        try:
            docker_client(REMOVE_TIMEOUT_S).images.remove(image, force=True, noprune=False)
            return
        except docker.errors.ImageNotFound:
            return
        except Exception as exc:
            if attempt == 2:
                log.warning("could not remove image %s: %s", image, exc)
                return
            time.sleep(1.0 + attempt)


def start(image: str, purpose: str, *, cpus: float, memory_mb: int, network: str,
          workdir: str | None = None, env: dict[str, str] | None = None) -> TaskContainer:
    """A confined container of `image` (see the module's docstring), kept alive by Harbor's
    own `sleep infinity`, with /logs/agent and /logs/verifier made."""
    import docker.errors

    client = docker_client()
    nano = int(min(cpus, host_cpus()) * 1e9)
    kwargs: dict[str, Any] = {}
    if workdir:
        kwargs["working_dir"] = workdir
    try:
        c: Any = client.containers.run(
            image, command=KEEP_ALIVE, detach=True, init=True,
            network_mode="none" if network == "no-network" else "bridge",
            cap_drop=["ALL"], cap_add=CAPS, security_opt=["no-new-privileges"],
            mem_limit=f"{memory_mb}m", memswap_limit=f"{memory_mb}m", nano_cpus=nano,
            pids_limit=PIDS, environment=dict(env or {}),
            labels={LABEL: "1", f"{LABEL}.owner": f"{socket.gethostname()}:{os.getpid()}",
                    f"{LABEL}.purpose": purpose}, **kwargs)
    except docker.errors.ImageNotFound as exc:
        raise SandboxError(f"image {image!r} not found") from exc
    except docker.errors.APIError as exc:
        raise SandboxError(f"could not start a container of {image}: {exc}") from exc
    box = TaskContainer(id=str(c.id), image=image)
    try:
        code, out = box.exec(LOG_DIRS, 60)
        if code != 0:
            raise SandboxError(f"could not make /logs in {image}: {out[-300:]}")
    except BaseException:
        box.remove()
        raise
    return box


def safe_tag(name: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", name.lower()).strip("-.")[:100] or "task"


def image_exists(tag: str) -> bool:
    import docker.errors

    try:
        docker_client().images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False
