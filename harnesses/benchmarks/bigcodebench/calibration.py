"""The canonical solutions' suite times (`gt_time`), measured in the sandbox that judges.

bigcodebench's evaluator first runs every task's canonical solution (`get_groundtruth`:
`complete_prompt + "\\n" + canonical_solution` against the task's tests) and keeps how long
its suite took, or None where it failed; that time enters the task's limit (see
`judging.Limits`) and the failures are its "ground truth pass rate". Here the canonical
solution is judged by benchdock's own judge in the run's sandbox, once per task, and cached
under BENCHDOCK_HOME keyed by the dataset's hash, the image (its id) and the CPU.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchdock.harnesses.benchmarks.bigcodebench.judging import Limits, judge
from benchdock.harnesses.contract.benchmark import Task
from benchdock.harnesses.sandbox import Sandbox, SandboxError

log = logging.getLogger("benchdock.bigcodebench")
_lock = threading.Lock()


def canonical_code(task: Task) -> str:
    """What upstream's ground-truth check runs."""
    return str(task.data["complete_prompt"]) + "\n" + str(task.data["canonical_solution"])


def _identity(sandbox: Sandbox) -> str:
    image = getattr(sandbox, "image", None)
    try:
        return f"{image}@{sandbox.client.images.get(image).id}"  # type: ignore[attr-defined]
    except Exception:
        return f"{sandbox.kind}:{image}"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return os.uname().machine


def cache_path(dataset_hash: str, sandbox: Sandbox, home: Path) -> Path:
    key = json.dumps({"dataset": dataset_hash, "runtime": _identity(sandbox), "cpu": _cpu()},
                     sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return home / "cache" / "bigcodebench-gt" / f"{digest}.json"


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(path: Path, new: dict[str, Any]) -> None:
    with _lock:
        merged = {**_load(path), **new}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(merged))
        tmp.replace(path)


def measure_one(sandbox: Sandbox, task: Task, limits: Limits) -> dict[str, Any]:
    """The canonical solution judged here: {"time": suite seconds or None, "status", "why"}."""
    try:
        result, problem, timed_out, _ = judge(sandbox, canonical_code(task), task.data["test"],
                                              limits.suite_timeout(None))
    except SandboxError as exc:
        return {"time": None, "status": "error", "why": f"the sandbox failed: {exc}"}
    if result is None:
        return {"time": None, "status": "timeout" if timed_out else "error", "why": problem}
    ok = result.get("status") == "pass"
    return {"time": float(result["suite_s"]) if ok and result.get("suite_s") is not None else None,
            "status": result.get("status"), "why": result.get("reason")}


def ground_truth(sandbox: Sandbox, dataset_hash: str, tasks: list[Task], home: Path,
                 limits: Limits) -> dict[str, dict[str, Any]]:
    """Per task: the canonical solution's outcome here (cached, else measured now, in
    parallel over the sandbox's runners)."""
    path = cache_path(dataset_hash, sandbox, home)
    known = _load(path)
    todo = [t for t in tasks if t.id not in known]
    if todo:
        log.info("judging %d canonical solutions in the %s sandbox (cached in %s)", len(todo),
                 sandbox.kind, path)
        with ThreadPoolExecutor(max(1, sandbox.size)) as pool:
            got = dict(zip([t.id for t in todo],
                           pool.map(lambda t: measure_one(sandbox, t, limits), todo), strict=True))
        # a sandbox fault is not the canonical solution's outcome: measured again next time
        keep = {k: v for k, v in got.items() if not str(v.get("why") or "").startswith(
            "the sandbox failed")}
        if keep:
            _save(path, keep)
        known = {**known, **got}
    return {t.id: known[t.id] for t in tasks}
