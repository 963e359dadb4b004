"""The harness's side of the test-generation judge: two sandbox jobs per suite.

Job 1 runs the suite on the reference alone: an invalid suite stops there, and its time sets
the per-run limit of job 2 (a few times it). Job 2, only for a suite valid in job 1, runs it on
the reference *and* every mutant, in a random order the judge draws: a suite that tried to tell
the runs apart by anything but behaviour (which run of the job it is, its pid, traces an
earlier run left) cannot know where the reference is, so the suite is valid only if it passes
on the reference in both jobs, and its coverage is measured in job 2. Verdicts come only from
the judge's nonce-carrying line on fd 3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from benchdock.harnesses.pyjudge.host import ensure_lib, judge_files, run_judge
from benchdock.harnesses.sandbox import Sandbox

REFERENCE_TIMEOUT_S = 60.0
MIN_RUN_S = 5.0
RUN_FACTOR = 4.0
MEM_BYTES = 2 << 30


def testgen_files() -> dict[str, bytes]:
    pkg = resources.files("benchdock.harnesses.benchmarks.testgen.drivers")
    return {**judge_files(),
            "pyjudge/testgen_judge.py": pkg.joinpath("judge.py").read_bytes(),
            "pyjudge/testgen_child.py": pkg.joinpath("child.py").read_bytes(),
            "pyjudge/testgen_spawn.py": pkg.joinpath("spawn.py").read_bytes()}


@dataclass
class Outcome:
    reference: dict[str, Any] = field(default_factory=dict)  # passed, how, seconds, coverage
    mutants: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> passed, how
    problem: str | None = None  # the sandbox or the judge failed: no verdict
    exec_s: float = 0.0


@dataclass
class SuiteRuns:
    sandbox: Sandbox

    def install(self) -> None:
        ensure_lib(self.sandbox, "testgen+pyjudge", testgen_files())

    def _job(self, impls: list[list[str]], tests: str, names: list[str], run_timeout: float,
             analyse: str | None) -> tuple[dict[str, Any] | None, str | None, float]:
        self.install()
        payload = {"impls": impls, "tests": tests, "names": names, "run_timeout": run_timeout,
                   "analyse": analyse}
        budget = 30.0 + len(impls) * (run_timeout + 35.0)
        reply = run_judge(self.sandbox, "testgen", payload, budget, MEM_BYTES)
        if reply.result is None:
            return None, reply.problem or "the judge gave no verdict", reply.exec_s
        return reply.result.get("runs", {}), None, reply.exec_s

    def judge(self, reference: str, mutants: list[dict[str, Any]], tests: str,
              names: list[str]) -> Outcome:
        """The suite `tests` on the reference alone (a quick check: an invalid suite stops
        here), then on the reference and every mutant in one job, in a random order."""
        out = Outcome()
        runs, problem, secs = self._job([["reference", reference]], tests, names,
                                        REFERENCE_TIMEOUT_S, None)
        out.exec_s += secs
        if runs is None or "reference" not in runs:
            out.problem = problem or "the judge did not run the reference"
            return out
        out.reference = runs["reference"]
        if not out.reference.get("passed"):
            return out
        limit = max(MIN_RUN_S, RUN_FACTOR * float(out.reference.get("seconds", 1.0)) + 2.0)
        impls = [["reference", reference], *([m["id"], m["code"]] for m in mutants)]
        runs, problem, secs = self._job(impls, tests, names, limit, "reference")
        out.exec_s += secs
        if runs is None or "reference" not in runs:
            out.problem = problem or "the judge did not run the reference"
            return out
        out.reference = runs["reference"]  # valid only if it passed here too (see above)
        out.mutants = {m["id"]: runs.get(m["id"], {"passed": True, "how": "not run"})
                       for m in mutants}
        return out
