"""benchdock's side of the BigCodeBench judge: install it in the sandbox, send it one sample,
turn its verdict into a `Verdict` with evidence.

The limits are bigcodebench 0.2.5's defaults (`evaluate`): 30 GiB of address space and of
data, a 10 MiB stack, and a time limit per task of `max(timeout_per_task, min_time_limit,
gt_time) + 1` seconds for the suite (upstream's `untrusted_check`: `timeout_per_task` is
BIGCODEBENCH_TIMEOUT_PER_TASK, 240 s by default; `min_time_limit` 1 s; `gt_time` how long the
canonical solution's suite took, measured in this sandbox by `calibration.py`, or 20 s where
it fails), waited for one second more. bigcodebench 0.2.5 has no `gt_time_limit_factor`:
that was EvalPlus's, and older bigcodebench releases'.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from benchdock.harnesses.contract.benchmark import Verdict
from benchdock.harnesses.pyjudge.host import ensure_lib, judge_files, run_judge
from benchdock.harnesses.sandbox import Sandbox

MAX_AS_LIMIT = 30 * 1024  # MiB, upstream's max_as_limit
MAX_DATA_LIMIT = 30 * 1024  # MiB, max_data_limit
MAX_STACK_LIMIT = 10  # MiB, max_stack_limit
MIN_TIME_LIMIT = 1.0  # s, min_time_limit
TIMEOUT_PER_TASK = 240.0  # s, bigcodebench.eval.utils.TIMEOUT_LIMIT
GT_FAILED_S = 20.0  # what upstream's evaluate uses for a task whose canonical solution failed
JOB_SLACK_S = 60.0  # the judge's own start (imports) and teardown, on top of the limit


@dataclass(frozen=True)
class Limits:
    timeout_per_task: float = TIMEOUT_PER_TASK
    min_time_limit: float = MIN_TIME_LIMIT

    def suite_timeout(self, gt_time: float | None) -> float:
        """The alarm upstream sets around the suite (its `timeout`)."""
        gt = GT_FAILED_S if gt_time is None else gt_time
        return max(self.timeout_per_task, max(self.min_time_limit, gt)) + 1


def judge_lib() -> dict[str, bytes]:
    pkg = resources.files("benchdock.harnesses.benchmarks.bigcodebench.drivers")
    return {**judge_files(),
            "pyjudge/bigcodebench_judge.py": pkg.joinpath("judge.py").read_bytes(),
            "pyjudge/bigcodebench_suite.py": pkg.joinpath("suite.py").read_bytes(),
            "pyjudge/bigcodebench_verdict.py": pkg.joinpath("verdict.py").read_bytes()}


def install(sandbox: Sandbox) -> None:
    ensure_lib(sandbox, "bigcodebench+pyjudge", judge_lib())


def judge(sandbox: Sandbox, code: str, test: str, timeout: float) -> tuple[dict[str, Any] | None, str | None, bool, float]:
    """One sample in the sandbox: the judge's result (None when it gave none), why not, whether
    the job timed out, and how long it took."""
    install(sandbox)
    payload = {"code": code, "test": test, "timeout": timeout, "max_as_limit": MAX_AS_LIMIT,
               "max_data_limit": MAX_DATA_LIMIT, "max_stack_limit": MAX_STACK_LIMIT}
    reply = run_judge(sandbox, "bigcodebench", payload, timeout + 1 + JOB_SLACK_S)
    return reply.result, reply.problem, reply.timed_out, reply.exec_s


def verdict(result: dict[str, Any] | None, problem: str | None, timed_out: bool,
            exec_s: float) -> Verdict:
    """The sample's verdict and evidence: the failing tests and the first one's assertion."""
    if result is None:
        return Verdict(verdict="timeout" if timed_out else "error", detail=problem,
                       exec_s=exec_s)
    status = result.get("status")
    if status not in ("pass", "fail", "error", "timeout"):
        return Verdict(verdict="error", detail=f"the judge gave an unknown status {status!r}",
                       exec_s=exec_s)
    extra: dict[str, Any] = {k: result[k] for k in ("failing", "tests", "suite_s", "upstream")
                             if k in result}
    return Verdict(verdict=status, detail=result.get("reason"), exec_s=exec_s, extra=extra)
