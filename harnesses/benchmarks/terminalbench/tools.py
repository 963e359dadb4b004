"""The verifier's tools, baked into an image benchdock builds, for tests that fetch them
when they run.

Terminal-Bench 2.0's tests/test.sh installs its tools at verification time (`apt-get
install curl`, then uv from the internet, then `uvx pytest==8.4.1`). benchdock's verifier
has no network, so for such a task `benchdock setup` (where the internet is) prepares the
tools once: the task's tests run in a container of the task's untouched image *with*
network, and whatever they installed is committed as `benchdock-tb-tools-<task>:<hash>`
together with the list of paths they added or changed (`docker diff`). At verification,
after the agent has finished, those paths are copied from that image into the fresh
verifier container over the agent's filesystem (so the agent cannot have tampered with
them), and the tests run offline (uv and pip are told so). The prepared run's own reward is
discarded: it verified an unsolved task.

Tasks whose tests need nothing from the network (benchdock's own) need no preparation.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from benchdock.harnesses.benchmarks.terminalbench import container
from benchdock.harnesses.benchmarks.terminalbench.taskfmt import HarborTask, tree_hash
from benchdock.harnesses.benchmarks.terminalbench.verify import PREPARE, RUN
from benchdock.harnesses.sandbox.base import SandboxError
from benchdock.harnesses.sandbox.docker_backend import docker_client

log = logging.getLogger("benchdock.tbench")

TOOLS_REPO = "benchdock-tb-tools"
PATHS_LABEL = "org.benchdock.tbench.tools"
# what a test run changes that is not a tool: its own files, logs, scratch, kernel views
SKIP = ("/tests", "/logs", "/tmp", "/var/tmp", "/proc", "/sys", "/dev", "/run")
OFFLINE_ENV = {"UV_OFFLINE": "1", "PIP_NO_INDEX": "1"}


def tools_tag(task: HarborTask, image: str) -> str:
    digest = hashlib.sha256(f"{image}\0{tree_hash(task.tests_dir)}".encode()).hexdigest()
    return f"{TOOLS_REPO}-{container.safe_tag(task.name)}:{digest[:12]}"


def tool_roots(diff: list[dict[str, Any]]) -> list[str]:
    """The smallest set of paths that carries every addition and change `docker diff`
    listed: added paths whose parent was not added, changed paths with no listed path
    below them (a changed file, or a folder that only lost files: skipped when copied).
    Kind 0 = changed, 1 = added, 2 = deleted."""
    paths = {str(d["Path"]): int(d["Kind"]) for d in diff}
    keep = [p for p in paths if not any(p == s or p.startswith(s + "/") for s in SKIP)]
    added = {p for p in keep if paths[p] == 1}
    roots = []
    for p in sorted(keep):
        parent = p.rsplit("/", 1)[0] or "/"
        new_root = paths[p] == 1 and parent not in added
        changed_leaf = paths[p] == 0 and not any(q.startswith(p + "/") for q in keep)
        if new_root or changed_leaf:
            roots.append(p)
    return roots


def prepared(tag: str) -> list[str] | None:
    """The tool paths of a prepared image, or None when it was not prepared."""
    import docker.errors

    try:
        img: Any = docker_client().images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    raw = (img.labels or {}).get(PATHS_LABEL)
    return list(json.loads(raw)) if raw else []


def prepare(task: HarborTask, image: str, say: Callable[[str], None] = log.info) -> str:
    """Run the task's tests once with network on its untouched image and keep what they
    installed (see the module's docstring); the tools image's tag."""
    tag = tools_tag(task, image)
    if prepared(tag) is not None:
        return tag
    say(f"{task.name}: running its tests once with network to keep the tools they fetch")
    box = container.start(image, "tbench-tools", cpus=task.cpus, memory_mb=task.memory_mb,
                          network="public", workdir=task.workdir, env=task.env)
    try:
        box.exec(PREPARE, 60)
        box.put_dir(task.tests_dir, "/tests")
        code, _ = box.exec(RUN, task.verifier_timeout_s, workdir=task.workdir,
                             env={**task.env, **task.verifier_env})
        box.kill()
        diff = docker_client().api.diff(box.id) or []
        roots = tool_roots(diff)
        repo, _, name = tag.partition(":")
        docker_client().containers.get(box.id).commit(
            repository=repo, tag=name, conf={"Labels": {PATHS_LABEL: json.dumps(roots),
                                                         "org.benchdock.sandbox": "1"}})
    except Exception as exc:
        raise SandboxError(f"{task.name}: preparing its verifier's tools failed: {exc}") from exc
    finally:
        box.remove()
    say(f"{task.name}: {len(roots)} tool path(s) kept in {tag} (tests exited {code})")
    return tag


def overlay(tag: str, roots: list[str], target: container.TaskContainer) -> int:
    """Copy each tool path of the prepared image into `target` (over whatever is there);
    the number of paths copied."""
    import docker.errors

    api = docker_client().api
    source = api.create_container(tag, command=["true"], network_disabled=True)
    copied = 0
    try:
        for path in roots:
            try:
                stream, stat = api.get_archive(source["Id"], path)
            except docker.errors.NotFound:
                continue
            if int(stat.get("mode", 0)) & (1 << 31):  # a folder that only lost files
                continue
            data = b"".join(stream)
            parent = path.rsplit("/", 1)[0] or "/"
            target.exec(f"mkdir -p '{parent}'", 60)
            if not api.put_archive(target.id, parent, data):
                raise SandboxError(f"could not copy {path} into the verifier's container")
            copied += 1
    finally:
        api.remove_container(source["Id"], force=True)
    return copied


