"""The BigCodeBench judge (installed in the sandbox as `pyjudge/bigcodebench_judge.py`).

Started like every pyjudge judge (`judge.main("bigcodebench")`: not dumpable, lib sealed,
payload with a nonce on stdin, verdict on fd 3), it decides one sample: does the code pass
the task's unittest suite as bigcodebench 0.2.5's `untrusted_check` runs it?

The suite has to run in the same process as the code (its tests patch the modules the code
uses, and compare DataFrames and Axes), so that process (W, `bigcodebench_suite.py`) is
forked before the payload is read and holds no secret. The judge sends W the job and a fresh
token, waits at most upstream's `timeout + 1` seconds (its `join`), and then reads W's report
as evidence: the verdict is the judge's, and it is written only here. A pass needs all of:

- W's one report, with this job's token, before the deadline (no report: W ended itself
  or was killed: an `error`; past the deadline: a `timeout`);
- upstream's own test of success: the module loaded, and no test failed or erred;
- every test method the judge found in the task's test code (parsed here, never run) ran;
  a skipped test counts only where the test code itself skips;
- unittest's machinery, the builtins and `sys.exc_info` unchanged by the code.

What upstream would call the same evidence (`upstream`: pass, fail or timeout) goes with the
verdict, for the parity script. Limits: code written to attack this protocol itself (read
the token out of W's memory and impersonate W's report) can still forge a pass, as it can
forge upstream's shared-memory status; the tests and the code share one interpreter, which
BigCodeBench's mocks require.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # (in the sandbox these are pyjudge's modules and bigcodebench_suite.py)
    from typing import Any

    from benchdock.harnesses.benchmarks.bigcodebench.drivers import suite as bigcodebench_suite
    from benchdock.harnesses.benchmarks.bigcodebench.drivers import verdict as bigcodebench_verdict
    from benchdock.harnesses.pyjudge import codec, frames
else:
    from . import bigcodebench_suite, bigcodebench_verdict, codec, frames

_W: Any = None
REPORT_CAP = 1 << 24
AFTER_REPORT_S = 2.0  # for W to end after its report (a second frame is a forgery)


def prepare() -> None:
    """Before the lib is sealed and the payload read: upstream's helpers and the libraries
    its evaluator has loaded when it forks (numpy, unittest, multiprocessing), then W."""
    global _W
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: what W leaves comes back here
    bigcodebench_suite.warm_matplotlib()
    bigcodebench_suite.load_reference()
    import unittest.mock  # noqa: F401  (most tests import it)

    _W = frames.WorkerHandle(bigcodebench_suite.main)


def _children() -> list[int]:
    me, out = os.getpid(), []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[-1].split()
        except OSError:
            continue
        if len(fields) > 1 and int(fields[1]) == me:
            out.append(int(name))
    return out


def _kill_all(w: Any) -> None:
    """W, its group, and every process it left (they are the judge's children now)."""
    w.kill()
    for _ in range(100):
        pids = _children()
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        for p in pids:
            try:
                os.waitpid(p, 0)
            except ChildProcessError:
                pass


def run(payload: dict[str, Any], workers: list[Any]) -> dict[str, Any]:
    w = _W
    expected, may_skip = bigcodebench_verdict.expected_tests(payload["test"])
    token = secrets.token_hex(16)
    job = {"code": payload["code"], "test": payload["test"], "timeout": payload["timeout"],
           "max_as_limit": payload["max_as_limit"], "max_data_limit": payload["max_data_limit"],
           "max_stack_limit": payload["max_stack_limit"], "token": token}
    deadline = time.monotonic() + float(payload["timeout"]) + 1.0  # upstream's join
    started = time.monotonic()
    try:
        try:
            w.send(codec.encode(job, 1 << 30).encode("ascii"), deadline)
            raw = w.recv(deadline, REPORT_CAP)
        except frames.Late:
            return {"status": "timeout", "upstream": "timeout", "reason": (
                f"timed out: no outcome within {float(payload['timeout']) + 1:g} s "
                "(bigcodebench's limit for this task)")}
        except frames.Closed:
            return {"status": "error", "upstream": "timeout", "reason": (
                f"the process running the code {w.how_it_ended()} before the tests "
                "finished (bigcodebench counts that as a timeout)")}
        except frames.TooLarge as exc:
            return {"status": "error", "upstream": "timeout",
                    "reason": f"the worker's pipe held {exc.size} bytes: not a report"}
        try:
            msg, _ = codec.decode(raw)
        except codec.Garbled as exc:
            return {"status": "error", "upstream": "timeout",
                    "reason": f"the worker's pipe held something other than a report: {exc}"}
        if not (isinstance(msg, list) and len(msg) == 3 and msg[0] == "report"):
            return {"status": "error", "upstream": "timeout",
                    "reason": "the worker's pipe held something other than a report"}
        if msg[1] != token:
            return {"status": "error", "upstream": "timeout",
                    "reason": "a report without this job's token (forged by the code under test)"}
        try:
            extra = w.recv(time.monotonic() + AFTER_REPORT_S, 1 << 16)
        except frames.Closed:
            extra = None
        except (frames.Late, frames.TooLarge):
            extra = b"?"
        if extra is not None:
            return {"status": "error", "upstream": "timeout", "reason": (
                "the worker's pipe held more than its one report (the code under test wrote "
                "to it, or kept the worker alive)")}
        verdict = bigcodebench_verdict.decide(msg[2], expected, may_skip)
        verdict["wall_s"] = round(time.monotonic() - started, 3)
        return verdict
    finally:
        _kill_all(w)
