"""The worker (W) of the BigCodeBench judge: runs one task's unittest suite against the code
under test, as bigcodebench 0.2.5's `unsafe_execute` does (installed in the sandbox as
`pyjudge/bigcodebench_suite.py`).

W is forked by the judge before the judge reads its payload, so it holds no secret. It
receives one job (the code, the task's test code, the time limit, the memory and stack
limits, a per-job token) and runs it the way upstream's child process does, with
upstream's own helpers from the image's copy of bigcodebench 0.2.5 (`safe_environment`,
`create_tempdir`, `reliability_guard`, `swallow_io`, `time_limit`): one module `__test__`
holding the code followed by the test code, `TestCases` loaded with `unittest.TestLoader`,
run into a `unittest.TestResult` under the time limit. Everything it then sends the judge
is evidence, not a verdict:

- the outcome as upstream records it (`stat`: success or failed, and `details`: each
  failing test's traceback, or `ALL` with why the module did not load), plus what upstream
  does not look at: which tests ran and which were skipped;
- whether the unittest machinery is still the one loaded before the code ran: the
  attributes of unittest's modules and classes (TestCase, TestResult, TestSuite,
  TestLoader, _Outcome), the builtins and `sys.exc_info` are compared, identity for
  identity, with a snapshot taken before the code was executed.

The report is one frame with the job's token, written with references taken before the
code ran. Code that ends the process, writes to W's pipe or patches unittest leaves no
report, a report without the token, or a report that says so; what the judge makes of it
is in `bigcodebench_judge.py`.
"""

from __future__ import annotations

import json
import os
import sys
import time
import types

TYPE_CHECKING = False  # typing itself is slow to import, and the judge starts per sample
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from benchdock.harnesses.pyjudge import codec, frames
else:
    from . import codec, frames

REFERENCE = "/opt/bigcodebench-reference"  # bigcodebench 0.2.5 in the image (no deps)
SUCCESS, FAILED = 0, 1  # upstream's _SUCCESS and _FAILED
TRACE_CAP = 4000  # characters of each failing test's traceback sent back
GUARDED = ("unittest", "unittest.case", "unittest.result", "unittest.suite",
           "unittest.loader", "unittest.runner", "unittest.util")
GUARDED_CLASSES = (("unittest.case", "TestCase"), ("unittest.case", "_Outcome"),
                   ("unittest.result", "TestResult"), ("unittest.suite", "TestSuite"),
                   ("unittest.suite", "BaseTestSuite"), ("unittest.loader", "TestLoader"))


MPLCONFIG = "/opt/benchdock-mplconfig"  # matplotlib's font cache, built with the image


def warm_matplotlib() -> None:
    """Matplotlib's font cache, as a user's warm ~/.cache holds it: copied from the image
    into a fresh directory of the job (the sandbox's user has no writable home, and without
    a cache every import rebuilds it, ~10 s). Before anything imports matplotlib."""
    if os.environ.get("MPLCONFIGDIR") or not os.path.isdir(MPLCONFIG):
        return
    import shutil
    import tempfile

    target = os.path.join(tempfile.mkdtemp(prefix="mplconfig-"), "matplotlib")
    shutil.copytree(MPLCONFIG, target)
    os.environ["MPLCONFIGDIR"] = target


def load_reference() -> Any:
    """Upstream's helpers, imported (by the judge, before it forks W) from the image."""
    if REFERENCE not in sys.path:
        sys.path.append(REFERENCE)
    import importlib

    return importlib.import_module("bigcodebench.eval.utils")


class Snapshot:
    """What the unittest machinery is before the code runs: each guarded module's and
    class's attributes by identity (a module may gain submodules: `unittest.mock`)."""

    def __init__(self) -> None:
        import builtins
        import unittest  # noqa: F401  (loads the guarded modules)

        self.modules = {name: dict(vars(sys.modules[name])) for name in GUARDED
                        if name in sys.modules}
        self.classes = {f"{m}.{c}": (getattr(sys.modules[m], c), dict(vars(getattr(sys.modules[m], c))))
                        for m, c in GUARDED_CLASSES}
        self.builtins = dict(vars(builtins))
        self.exc_info = sys.exc_info
        self.builtins_module = builtins

    def changed(self) -> list[str]:
        """What the code changed of it (nothing, for an honest program)."""
        out: list[str] = []
        for name, before in self.modules.items():
            now = vars(sys.modules.get(name) or types.ModuleType(name))
            out += [f"{name}.{k}" for k, v in before.items() if now.get(k, _GONE) is not v]
        for name, (cls, before) in self.classes.items():
            now = vars(cls)
            if set(now) != set(before):
                out.append(f"{name} (attributes added or removed)")
            out += [f"{name}.{k}" for k, v in before.items() if now.get(k, _GONE) is not v]
        now_b = vars(self.builtins_module)
        out += [f"builtins.{k}" for k, v in self.builtins.items() if now_b.get(k, _GONE) is not v]
        if sys.exc_info is not self.exc_info:
            out.append("sys.exc_info")
        return out


_GONE = object()


def _short_name(test: Any) -> str:
    try:
        return str(test.id()).split(".")[-1]
    except BaseException:
        return "?"


def run_suite(job: dict[str, Any], ref: Any) -> dict[str, Any]:
    """Upstream's `unsafe_execute`, step for step, keeping the TestResult."""
    import builtins
    import shutil
    import unittest

    report: dict[str, Any] = {"stat": None, "details": {}, "run": [], "skipped": {},
                              "expected_failures": [], "unexpected_successes": [],
                              "suite_s": None}
    details: dict[str, str] = report["details"]
    with ref.safe_environment(), ref.create_tempdir():
        rmtree, rmdir, chdir = shutil.rmtree, os.rmdir, os.chdir
        ref.reliability_guard(job["max_as_limit"], job["max_data_limit"], job["max_stack_limit"])
        snap = Snapshot()  # after upstream's own guard changed builtins (exit, quit)
        module = types.ModuleType("__test__")
        module.__dict__.update({"__builtins__": builtins, "__file__": "__test__.py",
                                "__package__": None, "__doc__": None, "sys": sys, "os": os,
                                "environ": os.environ})
        result = unittest.TestResult()
        try:
            with ref.swallow_io():
                exec(compile(job["code"] + "\n" + job["test"], "__test__.py", "exec"),
                     module.__dict__)
                sys.modules["__test__"] = module
                cases = module.__dict__["TestCases"]
                suite = unittest.TestLoader().loadTestsFromTestCase(cases)
                report["run"] = [_short_name(t) for t in suite]
                start = time.time()
                with ref.time_limit(job["timeout"]):
                    suite.run(result)
                report["suite_s"] = time.time() - start
            for test, trace in result.failures + result.errors:
                details[_short_name(test)] = str(trace)[-TRACE_CAP:]
            report["skipped"] = {_short_name(t): str(why)[:300] for t, why in result.skipped}
            report["expected_failures"] = [_short_name(t) for t, _ in result.expectedFailures]
            report["unexpected_successes"] = [_short_name(t) for t in result.unexpectedSuccesses]
            report["tests_run"] = result.testsRun
            report["stat"] = SUCCESS
        except BaseException as exc:
            try:
                details["ALL"] = f"{type(exc).__name__}: {exc}"[:TRACE_CAP]
            except BaseException:
                details["ALL"] = "an exception that cannot describe itself"
            report["stat"] = FAILED
        shutil.rmtree, os.rmdir, os.chdir = rmtree, rmdir, chdir
    report["tampered"] = snap.changed()
    return report


def serve(rfd: int, wfd: int, ref: Any, write: Callable[[int, bytes], None],
          encode: Callable[[Any, int], str]) -> None:
    """One job: read it, run it, send the report (token first) and end."""
    raw = frames.read_frame(rfd)
    job, _ = codec.decode(raw)
    token = job.pop("token")
    try:
        report = run_suite(job, ref)
    except BaseException as exc:  # upstream's helpers themselves failed
        report = {"stat": None, "harness_error": f"{type(exc).__name__}: {exc}"[:1000]}
    try:
        text = encode(["report", token, report], 1 << 24)
    except BaseException as exc:
        text = json.dumps(["report", token, {"stat": None, "harness_error":
                                             f"the report could not be encoded: {exc}"[:500]}])
    data = text.encode("ascii")
    write(wfd, frames.HEADER.pack(len(data)) + data)


def main(rfd: int, wfd: int) -> None:
    """W's entry point: the references it reports with are taken now, before any code."""
    ref = sys.modules["bigcodebench.eval.utils"]
    write, encode, exit_ = os.write, codec.encode, os._exit

    def write_all(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[write(fd, view):]

    try:
        serve(rfd, wfd, ref, write_all, encode)
    finally:
        exit_(0)
