"""EvalPlus in the judge: `evalplus.eval.untrusted_check` and `unsafe_execute` (0.3.1),
reproduced with the comparison moved out of the untrusted process.

Per part (base, then plus), in a fresh worker, as EvalPlus does in a fresh process:
per-input limits `max(min_time_limit, factor * ref_time)`; a global limit
`min(60, sum(limits)) + 1`, waited for one more second (EvalPlus's `join(timeout + 1)`),
after which the part is `timeout`; the worker applies EvalPlus's own `create_tempdir`,
`reliability_guard(4 GB)`, `swallow_io` and `time_limit` (an input over its limit raises
there, so it fails, as in EvalPlus); fast_check (stop at the first failure). The
comparison below is EvalPlus's, line for line (exact match, its special oracles, atol and
`is_floats`, `type(out) == type(exp)`, `np.allclose(rtol=1e-07)`), run here on the value
the worker returned as plain data. A worker that dies leaves EvalPlus's status unknown,
which EvalPlus reports as `timeout`; the reason says what happened.

Two things EvalPlus does not have: a returned object that is not plain data fails its
test (except where EvalPlus's oracle only asks whether the output is None), and so does a
value over 32 MiB as plain data (Mbpp/255's largest output is ~800 MB).
"""

from __future__ import annotations

import importlib
import time

from . import codec, frames, rpc

TYPE_CHECKING = False  # typing itself is slow to import, and the judge starts per sample
if TYPE_CHECKING:
    from typing import Any

GRACE_S = 1.0  # the judge's own per-input backstop, over the worker's alarm
INPUTS_S = 120.0  # for the worker to receive the inputs (before any code runs)
TIMEOUT_PER_TASK = 60  # EVALPLUS_TIMEOUT_PER_TASK's default


def prepare() -> None:
    for name in ("numpy", "psutil", "evalplus.eval", "evalplus.eval.utils",
                 "evalplus.eval._special_oracle"):
        importlib.import_module(name)


class Part:
    """One `untrusted_check` call: its inputs, expected outputs and limits."""

    def __init__(self, task: dict[str, Any], part: dict[str, Any]) -> None:
        ev = importlib.import_module("evalplus.eval")
        self.ev = ev
        self.dataset, self.entry_point = task["dataset"], task["entry_point"]
        self.atol = task["atol"]
        self.inputs, self.expected = part["inputs"], part["expected"]
        self.too_large = set(part.get("too_large", []))
        self.time_limits = [max(task["min_time_limit"], task["gt_time_limit_factor"] * t)
                            for t in part["ref_time"]]
        self.timeout = min(TIMEOUT_PER_TASK, sum(self.time_limits)) + 1  # fast_check
        self.details: list[bool] = []
        self.reason: str | None = None
        self.index: int | None = None
        self.got: str | None = None
        self.died = False

    def compare(self, i: int, out: Any) -> bool:
        """EvalPlus's checks for input i; False where EvalPlus `continue`s (find_zero)
        without counting the input. Raises where EvalPlus's assertions fail."""
        ev, entry_point, atol = self.ev, self.entry_point, self.atol
        np = importlib.import_module("numpy")
        exp = self.expected[i]
        inp = self.inputs[i]
        exact_match = out == exp
        if self.dataset == "mbpp":
            if entry_point == "are_equivalent":  # Mbpp/164 special oracle
                exact_match = exact_match or True
            elif entry_point == "sum_div":  # Mbpp/295 special oracle
                exact_match = exact_match or out == 0
            elif entry_point == "surface_Area":  # Mbpp/581 special oracle
                exact_match = exact_match or abs(out - ev._surface_Area(*inp)) <= atol
            elif entry_point == "digit_distance_nums":  # Mbpp/558 special oracle
                exact_match = exact_match or out == ev._digit_distance_nums(*inp)
            elif entry_point in ev.MBPP_OUTPUT_SET_EQ_TASKS:
                exact_match = set(out) == set(exp)
            elif entry_point in ev.MBPP_OUTPUT_NOT_NONE_TASKS:
                exact_match = out == exp if isinstance(out, bool) else exp == (out is not None)
        if self.dataset == "humaneval" and entry_point == "find_zero":
            assert abs(ev._poly(*inp, out)) <= atol
            return False
        if atol == 0 and ev.is_floats(exp):
            self.atol = atol = 1e-6  # enforce atol for float comparison (kept, as in EvalPlus)
        if not exact_match and atol != 0:
            assert type(out) == type(exp)  # noqa: E721 - EvalPlus's own test
            if isinstance(exp, (list, tuple)):
                assert len(out) == len(exp)
            assert np.allclose(out, exp, rtol=1e-07, atol=atol)
        else:
            assert exact_match
        return True

    def only_none_matters(self) -> bool:
        return self.dataset == "mbpp" and self.entry_point in self.ev.MBPP_OUTPUT_NOT_NONE_TASKS

    def fail(self, i: int | None, reason: str, got: str | None = None) -> str:
        if i is not None:
            self.details.append(False)
        self.index, self.reason, self.got = i, reason, got
        return "fail"

    def run(self, w: frames.WorkerHandle, code: str) -> str:
        """The part's status: pass, fail or timeout (EvalPlus's names)."""
        far = time.monotonic() + INPUTS_S
        ready = rpc.exchange(w, codec.encode(["inputs", self.inputs, self.time_limits], 1 << 34),
                             far, far)
        if ready.kind != "ready":
            raise RuntimeError(f"the worker could not take the inputs: {ready.kind} {ready.text}")
        deadline = time.monotonic() + self.timeout + 1  # EvalPlus: p.join(timeout + 1)
        load = rpc.exchange(w, codec.encode(["load", code, self.entry_point, "evalplus"], 1 << 28),
                            deadline, deadline)
        if load.kind == "raised":
            return self.fail(None, f"the code raised {load.text} when run")
        if load.kind != "ok":
            return self._abnormal(None, load, "while the code was being loaded")
        for i in range(len(self.inputs)):
            limit = self.time_limits[i]
            header_by = min(deadline, time.monotonic() + limit + GRACE_S)
            out = rpc.exchange(w, f'["call",{i}]', header_by, deadline)
            if out.kind == "late" and time.monotonic() < deadline:
                return self.fail(i, f"took longer than its {limit:.2f} s limit")
            if out.kind == "not_plain" and out.value is not None and self.only_none_matters():
                out = rpc.Outcome("value", out.value, elapsed=out.elapsed)
            if out.kind != "value":
                return self._abnormal(i, out, f"on test #{i}")
            if i in self.too_large:
                return self.fail(i, "its expected output is over 32 MiB as plain data, more "
                                 "than benchdock judges: this test fails for every answer")
            try:
                counted = self.compare(i, out.value)
            except BaseException as exc:  # EvalPlus: any exception fails the input
                what = f"{type(exc).__name__}: {exc}" if not isinstance(exc, AssertionError) else ""
                return self.fail(i, f"wrong output{'; ' + what if what else ''}",
                                 _short(out.value))
            if counted:
                self.details.append(True)
        if len(self.details) != len(self.inputs):
            self.reason = ("EvalPlus 0.3.1 counts no input of find_zero as passed (its oracle "
                           "`continue`s past the bookkeeping), so this task fails for every "
                           "answer, in EvalPlus and here")
            return "fail"
        return "pass"

    def _abnormal(self, i: int | None, out: rpc.Outcome, when: str) -> str:
        if out.kind == "raised":
            return self.fail(i, f"raised {out.text}")
        if out.kind in ("not_plain", "too_large"):
            text = out.text if out.kind == "not_plain" else f"returned a value too large to judge ({out.text})"
            return self.fail(i, text)
        if out.kind == "garbled":
            return self.fail(i, f"the process running the code broke the judge's protocol: {out.text}")
        self.index = i
        if out.kind == "died":  # EvalPlus: the status was never set, which it calls timeout
            self.died = True
            self.reason = f"the process running the code {out.text} {when}"
        else:
            self.reason = f"the part ran past its limit of {self.timeout + 1:g} s {when}"
        return "timeout"


def _short(x: Any, n: int = 200) -> str:
    try:
        text = repr(x)
    except Exception:
        text = "?"
    return text if len(text) <= n else text[: n - 3] + "..."


def run(payload: dict[str, Any], workers: list[frames.WorkerHandle]) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    for spec, w in zip(payload["parts"], workers, strict=True):
        part = Part(payload, spec)
        status = part.run(w, payload["code"])
        w.kill()
        parts[spec["name"]] = {"status": status, "details": part.details,
                               "index": part.index, "reason": part.reason, "got": part.got,
                               "died": part.died}
    return {"parts": parts}
