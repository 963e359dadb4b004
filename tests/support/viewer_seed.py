"""A store for the viewer's tests, with known answers, verdicts and evidence: two models on
the same HumanEval+ tasks (which tasks differ, and who wins them, is known), an agentic
swe-local sample with a trajectory, an aider run over two languages, and a queued run.

Rows are written as the engine writes them (`seed_run`), then given the texts an engine
would have stored (answers, extracted code, the verdict's detail, the evidence)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from benchdock.store.tables import Sample
from tests.support.seed import aider_outcomes, passes, seed_run

N_TASKS = 10
A_PASSES = [0, 1, 2, 3, 4, 5]
B_PASSES = [0, 1, 2, 7, 8]
DIFFERING = {f"HumanEval/{i}" for i in set(A_PASSES) ^ set(B_PASSES)}  # 3, 4, 5, 7, 8
NEEDLE = "ZeroDivisionError in helper_quux"  # in one failing test output only (m-b, task 4)
STEP_COMMAND = "python -m pytest tests/test_curry.py -x"
STEP_OUTPUT = "FAILED tests/test_curry.py::test_curry_kwargs - TypeError: got an unexpected keyword"

TRAJECTORY: list[dict[str, Any]] = [
    {"role": "assistant", "commands": [STEP_COMMAND], "text": "Let me run the failing test.",
     "prompt_tokens": 1200, "completion_tokens": 40},
    {"role": "observation", "returncode": 1, "output": STEP_OUTPUT, "chars": len(STEP_OUTPUT),
     "truncated": False},
    {"role": "assistant", "commands": ["sed -i 's/kwargs)/**kwargs)/' toolz/functoolz.py"],
     "text": "The call drops the keywords; fix it.", "prompt_tokens": 1500,
     "completion_tokens": 55},
    {"role": "observation", "returncode": 0, "output": "", "chars": 0, "truncated": False},
    {"role": "exit", "exit_status": "Submitted", "output": "diff --git a/toolz/functoolz.py"},
]


@dataclass
class Seeded:
    a: str  # m-a on humaneval-plus
    b: str  # m-b on humaneval-plus
    swe: str  # m-a on swe-local, one sample with a trajectory
    aider: str  # m-a on aider-polyglot, rust and go
    queued: str  # m-b on mbpp-plus, queued


def code_for(model: str, i: int) -> str:
    body = "return sum(xs)" if (i in (A_PASSES if model == "m-a" else B_PASSES)) else "return 0"
    return f"def solve_{i}(xs):\n    # {model}\n    {body}\n"


def _fill(db: Engine, run_id: str, model: str) -> None:
    with Session(db) as s:
        for sample in s.exec(select(Sample).where(Sample.run_id == run_id)).all():
            i = int(sample.task_id.split("/")[-1].removeprefix("ex"))
            sample.code = code_for(model, i)
            sample.completion = f"Here is my answer.\n```python\n{sample.code}```"
            sample.latency_s = 0.5 + i  # task i took 0.5 + i seconds
            sample.completion_tokens = 50 + 10 * i
            if sample.verdict == "fail":
                sample.detail = "AssertionError: solve([1, 2]) == 3"
                if model == "m-b" and i == 4:
                    sample.detail = f"Traceback (most recent call last):\n  {NEEDLE}"
            s.add(sample)
        s.commit()


def seed_viewer_store(db: Engine) -> Seeded:
    a = seed_run(db, "m-a", "humaneval-plus", passes("HumanEval/", N_TASKS, A_PASSES))
    b = seed_run(db, "m-b", "humaneval-plus", passes("HumanEval/", N_TASKS, B_PASSES))
    _fill(db, a, "m-a")
    _fill(db, b, "m-b")
    swe = seed_run(db, "m-a", "swe-local", {"toolz__toolz-1": True, "toolz__toolz-2": False},
                   extras={"toolz__toolz-1": {"steps": 2, "trajectory": TRAJECTORY,
                                               "test_log": "collected 4 items\n4 passed"}})
    rust, rust_extra = aider_outcomes("rust", [True, False, False], [None, True, False])
    go, go_extra = aider_outcomes("go", [False, True], [False, None])
    aider = seed_run(db, "m-a", "aider-polyglot", {**rust, **go},
                     extras={**rust_extra, **go_extra})
    queued = seed_run(db, "m-b", "mbpp-plus", passes("Mbpp/", 5, 2), status="queued")
    with Session(db) as s:  # a queued run has nothing scored yet
        for sample in s.exec(select(Sample).where(Sample.run_id == queued)).all():
            sample.verdict = None
            s.add(sample)
        s.commit()
    return Seeded(a, b, swe, aider, queued)
