"""The instance containers: where the agent's commands and the grading tests run.

Each is started by benchdock from the project's image under the confinement of benchdock's
Docker sandbox (`sandbox/docker_backend.py`): no network, a read-only root, user 65534, no
capabilities, no new privileges, memory, CPU and process limits, and the sandbox's label
(so `reap_orphans` removes it if benchdock dies). The project's sdist is streamed into a tmpfs at
/testbed, the instance's bug is applied and the result committed as a fresh repository
before anyone runs a command there. benchdock
removes the container itself, at the end, on cancel and on error (mini-swe-agent only
stops its own in the background, so it never starts one here).
"""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchdock.harnesses.sandbox.base import SandboxError
from benchdock.harnesses.sandbox.docker_backend import LABEL, docker_client

LIMITS: dict[str, str] = {"memory": "2g", "cpus": "1.0", "pids": "512", "testbed": "1g",
                          "tmp": "512m"}
ENV = {"HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1", "PAGER": "cat", "MANPAGER": "cat",
       "LESS": "-R", "PIP_PROGRESS_BAR": "off", "TQDM_DISABLE": "1", "GIT_PAGER": "cat"}
CONTAINER_LIFETIME_S = 6 * 3600  # the reaper keeps it alive; benchdock removes it well before
# PID 1 of each container. Orphaned processes (a fork bomb's, a command's that outlived its
# `timeout`) are re-parented to it: a `sleep` never reaps them, and their zombies would hold
# the process limit for good; this reaps every exited child, then ends after the lifetime.
REAPER = f"""import os, time
end = time.monotonic() + {CONTAINER_LIFETIME_S}
while time.monotonic() < end:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
    time.sleep(0.2)
"""


def isolation_text(image: str) -> str:
    lim = LIMITS
    return (f"docker ({image}), one container per instance for the agent and a fresh one for "
            f"grading: no network, read-only root, user 65534, no capabilities, "
            f"{lim['memory']} memory, {lim['cpus']} CPU, {lim['pids']} processes, /testbed and "
            "/tmp on tmpfs; removed by benchdock at the end, on cancel and on error")


@dataclass(eq=False)
class InstanceContainer:
    """A running, confined container of a project image with /testbed filled."""

    id: str
    image: str

    def exec(self, script: str, timeout_s: float, stdin: bytes | None = None) -> tuple[int, str]:
        """Run `script` with bash in /testbed as user 65534; (exit status, stdout+stderr).
        A script that overruns is killed inside the container (status 137)."""
        cmd = ["docker", "exec", "-i", "-w", "/testbed", self.id, "timeout", "-s", "KILL",
               str(int(timeout_s)), "bash", "-c", script]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout_s + 30,
                                  input=stdin or b"")
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"docker exec in {self.id[:12]} did not return") from exc
        out = (done.stdout + done.stderr).decode("utf-8", "replace")
        return done.returncode, out

    def put(self, path: str, data: bytes) -> None:
        """Write a file into the container (through stdin: the root is read-only, the
        target must be on a tmpfs)."""
        done = subprocess.run(["docker", "exec", "-i", self.id, "sh", "-c", f"cat > '{path}'"],
                              input=data, capture_output=True, timeout=60)
        if done.returncode != 0:
            raise SandboxError(f"could not write {path} into {self.id[:12]}: "
                               f"{done.stderr.decode(errors='replace')[-300:]}")

    def remove(self) -> None:
        try:
            docker_client().containers.get(self.id).remove(force=True)
        except Exception:  # already gone, or the engine is away: nothing left to remove
            pass


def start(image: str, purpose: str, sdist: Path) -> InstanceContainer:
    """A confined container of `image` with the project's clean tree (its sdist) in
    /testbed (no git yet: `prepare` makes the instance's repository)."""
    import docker.errors

    client = docker_client()
    lim = LIMITS
    try:
        c: Any = client.containers.run(
            image, command=["python3", "-c", REAPER], detach=True,
            network_mode="none", read_only=True, user="65534:65534", cap_drop=["ALL"],
            security_opt=["no-new-privileges"], working_dir="/testbed",
            tmpfs={"/tmp": f"rw,exec,nosuid,size={lim['tmp']}",
                   "/testbed": f"rw,exec,nosuid,size={lim['testbed']},uid=65534,gid=65534"},
            mem_limit=lim["memory"], memswap_limit=lim["memory"],
            nano_cpus=int(float(lim["cpus"]) * 1e9), pids_limit=int(lim["pids"]),
            environment=ENV, labels={LABEL: "1", f"{LABEL}.owner":
                                     f"{socket.gethostname()}:{os.getpid()}",
                                     f"{LABEL}.purpose": purpose})
    except docker.errors.ImageNotFound as exc:
        raise SandboxError(f"image {image!r} not found; build it with `benchdock build-image "
                           "--harness swe-local` (or `benchdock setup swe-local`)") from exc
    except docker.errors.APIError as exc:
        raise SandboxError(f"could not start a container of {image}: {exc}") from exc
    box = InstanceContainer(id=str(c.id), image=image)
    try:
        _fill(box, sdist)
    except BaseException:
        box.remove()
        raise
    return box


def _fill(box: InstanceContainer, sdist: Path) -> None:
    """Unpack the sdist into /testbed as user 65534 (streamed through docker exec)."""
    with open(sdist, "rb") as f:
        done = subprocess.run(["docker", "exec", "-i", box.id, "tar", "-C", "/testbed", "-xzf",
                               "-", "--strip-components=1", "--no-same-owner"], stdin=f,
                              capture_output=True, timeout=300)
    if done.returncode != 0:
        raise SandboxError(f"could not unpack {sdist.name} into /testbed: "
                           f"{done.stderr.decode(errors='replace')[-500:]}")


# the instance's repository: the bug applied to the clean tree, then one commit with a fixed
# author and date and no parent, so its hash depends on the files alone and the history
# shows nothing of the bug
PREPARE = r"""set -e
if [ -s /tmp/.bug.patch ]; then git apply --whitespace=nowarn /tmp/.bug.patch; fi
rm -f /tmp/.bug.patch
git init -q -b main
printf '__pycache__/
*.pyc
.pytest_cache/
' >> .git/info/exclude
git add -A
GIT_AUTHOR_DATE='2000-01-01T00:00:00Z' GIT_COMMITTER_DATE='2000-01-01T00:00:00Z'   git -c user.name=benchdock -c user.email=benchdock@localhost commit -q -m base
git rev-parse HEAD
"""


def prepare(box: InstanceContainer, bug_patch: str) -> str:
    """Make /testbed the instance's repository (see PREPARE); its base commit."""
    box.put("/tmp/.bug.patch", bug_patch.encode())
    code, out = box.exec(PREPARE, 120)
    if code != 0:
        raise SandboxError(f"could not prepare the instance's repository: {out[-800:]}")
    return out.strip().splitlines()[-1]
