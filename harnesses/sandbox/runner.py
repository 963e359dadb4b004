"""The sandbox runner: a stdlib-only loop that executes jobs sent as JSON lines.

It runs inside the Docker container (passed as `python3 -c`) and, for the local backend, as
a plain subprocess: one program, so both backends behave alike. Each job's files go into a
fresh directory; its command runs in its own process group with resource limits and a hard
wall-clock limit, and the group is killed when time is up. Output is capped.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

BASE = os.environ.get("BENCHDOCK_RUNNER_DIR") or tempfile.gettempdir()
LIB = os.path.join(BASE, "bdlib")


def _limits(mem_bytes: int | None) -> Callable[[], None]:
    def apply() -> None:
        os.setsid()
        if mem_bytes:
            for lim in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
                try:
                    resource.setrlimit(lim, (mem_bytes, mem_bytes))
                except (ValueError, OSError):
                    pass
        try:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        except (ValueError, OSError):
            pass

    return apply


def _write(root: str, files: dict[str, str]) -> None:
    for name, b64 in files.items():
        path = os.path.normpath(os.path.join(root, name))
        if not path.startswith(root + os.sep):
            raise ValueError("file name escapes the job directory: " + name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(b64))


def _cap(data: bytes, limit: int) -> tuple[str, bool]:
    if len(data) > limit:
        return data[:limit].decode("utf-8", "replace"), True
    return data.decode("utf-8", "replace"), False


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    if job.get("op") == "lib":
        os.makedirs(LIB, exist_ok=True)
        _write(LIB, job["files"])
        return {"id": job["id"], "exit_code": 0, "stdout": "", "stderr": "", "timed_out": False,
                "duration_s": 0.0, "truncated": False}
    root = tempfile.mkdtemp(prefix="job-", dir=BASE)
    try:
        _write(root, job.get("files", {}))
        env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": root, "PYTHONPATH": LIB,
               "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}
        env.update(job.get("env") or {})
        limit = int(job.get("max_output", 65536))
        t0 = time.monotonic()
        proc = subprocess.Popen(
            job["argv"], cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, preexec_fn=_limits(job.get("mem_bytes")),
        )
        timed_out = False
        try:
            out, err = proc.communicate((job.get("stdin") or "").encode(), timeout=job["timeout"])
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = proc.communicate()
        else:
            try:  # leftovers the program forked stay no longer than the job
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        dur = time.monotonic() - t0
        so, t1 = _cap(out, limit)
        se, t2 = _cap(err, limit)
        return {"id": job["id"], "exit_code": None if timed_out else proc.returncode,
                "stdout": so, "stderr": se, "timed_out": timed_out, "duration_s": dur,
                "truncated": t1 or t2}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    os.makedirs(BASE, exist_ok=True)
    sys.stdout.write(json.dumps({"ready": True, "python": sys.version.split()[0]}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        try:
            res = run_job(job)
        except Exception as exc:
            res = {"id": job.get("id"), "runner_error": repr(exc)}
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
