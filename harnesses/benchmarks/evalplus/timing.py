"""EvalPlus's reference times, measured in the sandbox that will run the code.

EvalPlus's per-input limits are `max(1 s, 4 x ref_time)`, `ref_time` being how long the
canonical solution took on that input. EvalPlus measures it (in `get_groundtruth`) on the
machine that checks; benchdock checks in the sandbox (a container with one CPU), so the
host's times made some right answers time out there (HumanEval/130's `tri(999998)`).
Here each task's canonical solution is timed in the sandbox itself (the judge's `time`
mode: EvalPlus's `trusted_exec` loop), once, for the run's tasks only, and cached under
BENCHDOCK_HOME keyed by dataset hash, sandbox kind, image (its id) or local interpreter,
and CPU model. A task whose timing job fails keeps EvalPlus's host times (logged).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchdock.harnesses.contract.benchmark import Task
from benchdock.harnesses.pyjudge.host import run_judge
from benchdock.harnesses.sandbox import Sandbox, SandboxError

log = logging.getLogger("benchdock.evalplus")
_lock = threading.Lock()


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model", "cpu model")):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def sandbox_identity(sandbox: Sandbox) -> str:
    """What the times depend on besides the CPU: the image's id, or the local Python."""
    image = getattr(sandbox, "image", None)
    if image:
        try:
            return f"{image}@{sandbox.client.images.get(image).id}"  # type: ignore[attr-defined]
        except Exception:
            return str(image)
    import numpy

    return f"python {sys.version.split()[0]} numpy {numpy.__version__} at {sys.executable}"


def cache_path(dataset_hash: str, sandbox: Sandbox, home: Path) -> tuple[Path, dict[str, str]]:
    key = {"dataset_hash": dataset_hash, "sandbox": sandbox.kind,
           "runtime": sandbox_identity(sandbox), "cpu": cpu_model()}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return home / "cache" / "evalplus-times" / f"{digest}.json", key


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    times = data.get("times")
    return times if isinstance(times, dict) else {}


def _save(path: Path, key: dict[str, str], new: dict[str, Any]) -> None:
    with _lock:
        merged = {**_load(path), **new}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "times": merged}))
        tmp.replace(path)


def time_one(sandbox: Sandbox, task: Task, host_times: dict[str, list[float]]) -> dict[str, list[float]] | None:
    """The canonical solution's times on base and plus inputs, measured in `sandbox`."""
    p = task.data
    payload = {"code": p["prompt"] + p["canonical_solution"], "entry_point": task.entry_point,
               "parts": {"base": p["base_input"], "plus": p["plus_input"]}}
    budget = 60.0 + 20 * sum(sum(t) for t in host_times.values())
    try:
        reply = run_judge(sandbox, "time", payload, budget)
    except SandboxError as exc:
        log.warning("timing %s in the sandbox failed (%s); using EvalPlus's host times", task.id, exc)
        return None
    times = (reply.result or {}).get("times")
    if not isinstance(times, dict) or any(
            len(times.get(n, [])) != len(p[f"{n}_input"]) for n in ("base", "plus")):
        log.warning("timing %s in the sandbox failed (%s); using EvalPlus's host times",
                    task.id, reply.problem)
        return None
    return {n: [float(x) for x in times[n]] for n in ("base", "plus")}


def sandbox_times(sandbox: Sandbox, dataset_hash: str, tasks: list[Task],
                  expected: dict[str, Any], home: Path) -> dict[str, dict[str, list[float]]]:
    """ref_time per task and part for `tasks`: cached (under `home`), else measured now (in
    parallel over the sandbox's runners), else EvalPlus's host times."""
    path, key = cache_path(dataset_hash, sandbox, home)
    cached = _load(path)
    todo = [t for t in tasks if t.id not in cached]
    if todo:
        log.info("timing %d canonical solutions in the %s sandbox (cached in %s)",
                 len(todo), sandbox.kind, path)

        def one(t: Task) -> tuple[str, dict[str, list[float]] | None]:
            host = {n: expected[t.id][f"{n}_time"] for n in ("base", "plus")}
            return t.id, time_one(sandbox, t, host)

        with ThreadPoolExecutor(max(1, sandbox.size)) as pool:
            measured = {tid: tm for tid, tm in pool.map(one, todo) if tm is not None}
        if measured:
            _save(path, key, measured)
        cached = {**cached, **measured}
    out = {}
    for t in tasks:
        got = cached.get(t.id)
        out[t.id] = got if got else {n: expected[t.id][f"{n}_time"] for n in ("base", "plus")}
    return out
