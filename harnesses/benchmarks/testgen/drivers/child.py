"""The test process (T) of the test-generation judge: runs the model's pytest file, hostile.

This file is not imported in the sandbox: the judge reads it before anything untrusted runs
and sends it, with the codec's source, on T's stdin (T is `python3 -I -B -c BOOT`, so nothing
written to disk by an earlier run is ever imported). T never holds the implementation under
test: `solution.<name>` and the builtin `<name>` are proxies that send the arguments, as plain
data, to the implementation server (another process, not dumpable) and return what it
answered. So T cannot read the code it tests (no `inspect.getsource` of a mutant), only call
it. T's own report (which tests failed) is advisory: it can lie, but only about itself, and
every way of not reporting a complete pass counts as "this suite fails here".
"""

from __future__ import annotations

import builtins
import json
import os
import sys
import types
from typing import Any

HEADER_BYTES = 4
CAP = 64 << 20


def _frame_write(fd: int, data: bytes) -> None:
    view = memoryview(len(data).to_bytes(HEADER_BYTES, "big") + data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise ConnectionError("the implementation under test stopped answering")
        buf += chunk
    return bytes(buf)


def _frame_read(fd: int) -> bytes:
    size = int.from_bytes(_read_exact(fd, HEADER_BYTES), "big")
    if size > CAP:
        raise ConnectionError("the implementation's answer is too large")
    return _read_exact(fd, size)


def _proxy(codec: Any, fd: int, name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            req = codec.encode(["call", name, list(args), kwargs], CAP)
        except codec.NotPlainData as exc:
            raise TypeError(f"benchdock passes only plain data to {name}: {exc}") from None
        _frame_write(fd, req.encode("ascii"))
        reply, _ = codec.decode(_frame_read(fd))
        if reply[0] == "ok":
            return reply[1]
        if reply[0] == "raise":
            kind = getattr(builtins, reply[1], None)
            if isinstance(kind, type) and issubclass(kind, BaseException):
                raise kind(reply[2])
            raise RuntimeError(f"{reply[1]}: {reply[2]}")
        raise TypeError(f"{name} returned a value benchdock cannot pass back: {reply[1]}")

    call.__name__ = call.__qualname__ = name
    return call


class _Recorder:
    """A pytest plugin: which tests passed, failed or were skipped."""

    def __init__(self) -> None:
        self.passed = 0
        self.skipped = 0
        self.failed: list[list[str]] = []

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self.failed.append([str(report.nodeid) or "collection", "collect",
                                str(report.longrepr)[-400:]])

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed:
            self.failed.append([str(report.nodeid), str(report.when),
                                str(report.longrepr)[-400:]])
        elif report.skipped:
            self.skipped += 1
        elif report.when == "call":
            self.passed += 1


PYTEST_FLAGS = ("-x", "-q", "-p", "no:cacheprovider", "--noconftest", "--import-mode=importlib",
                "-W", "ignore")


def warm_up() -> None:
    """In the zygote, before any test: import pytest and run it once on an empty folder, so
    each forked test process starts with every module pytest needs already loaded."""
    import shutil
    import tempfile

    import pytest

    tmp = tempfile.mkdtemp(prefix="tgwarm-")
    try:
        ini = os.path.join(tmp, "x.ini")
        with open(ini, "w") as fh:
            fh.write("[pytest]\n")
        with open(os.path.join(tmp, "test_warm.py"), "w") as fh:
            fh.write("def test_warm():\n    assert [1] == [1]\n")
        pytest.main([os.path.join(tmp, "test_warm.py"), *PYTEST_FLAGS, "-c", ini,
                     "--rootdir", tmp])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(d: dict[str, Any]) -> None:
    codec = types.ModuleType("benchdock_codec")
    exec(compile(d["codec"], "<benchdock-codec>", "exec"), codec.__dict__)
    rpc_fd, report_fd = int(d["rpc_fd"]), int(d["report_fd"])
    solution = types.ModuleType("solution")
    for name in d["names"]:
        fn = _proxy(codec, rpc_fd, name)
        setattr(solution, name, fn)
        setattr(builtins, name, fn)  # tests that forget the import still reach it
    sys.modules["solution"] = solution
    import pytest

    rec = _Recorder()
    code = pytest.main([d["test_path"], *PYTEST_FLAGS, "-c", d["ini_path"], "--rootdir",
                        d["rundir"]], plugins=[rec])
    record = {"exit": int(code), "passed": rec.passed, "skipped": rec.skipped,
              "failed": rec.failed[:5]}
    data = (json.dumps(record) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(report_fd, view):]
    os._exit(0)
