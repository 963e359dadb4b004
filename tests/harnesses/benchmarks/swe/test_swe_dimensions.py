"""swe-local's dimension rows and the debugging rule, on trajectories as the driver records
them (no Docker, no model): which instances count for debugging, and what each row reads."""

from __future__ import annotations

from typing import Any

from benchdock.harnesses.benchmarks.swe.benchmark import MAP, SweLocal
from benchdock.harnesses.benchmarks.swe.debugging import first_test_run
from benchdock.harnesses.benchmarks.swe.session import summary
from benchdock.store.tables import Sample


def said(*cmds: str) -> dict[str, Any]:
    return {"role": "assistant", "commands": list(cmds), "text": "", "prompt_tokens": 1,
            "completion_tokens": 1}


def saw(output: str, code: int = 0) -> dict[str, Any]:
    return {"role": "observation", "returncode": code, "output": output, "truncated": False}


FAILING = "FAILED toolz/tests/test_itertoolz.py::test_first - AssertionError\n1 failed, 3 passed"


def test_the_first_pytest_run_decides() -> None:
    assert first_test_run([said("ls"), saw("toolz")]) is None
    got = first_test_run([said("cat setup.cfg"), saw("x"),
                          said("cd /testbed && python -m pytest toolz/tests -q"), saw(FAILING, 1),
                          said("pytest -q"), saw("5 passed")])
    assert got == {"step": 2, "command": "cd /testbed && python -m pytest toolz/tests -q",
                   "returncode": 1, "failed": True}
    # a pass first: the later failing run does not make it a debugging instance
    first = first_test_run([said("pytest -q"), saw("4 passed"), said("pytest"), saw(FAILING, 1)])
    assert first is not None and first["failed"] is False
    # piped: the status is tail's, the output decides
    assert first_test_run([said("pytest -q 2>&1 | tail -5"), saw(FAILING, 0)])["failed"]  # type: ignore[index]
    assert not first_test_run([said("pytest -q | tail -3"), saw("4 passed", 0)])["failed"]  # type: ignore[index]
    # collection errors, no status line
    assert first_test_run([said("py.test"), saw("ERROR toolz/tests/test_x.py\n1 error", 2)])[  # type: ignore[index]
        "failed"]
    # `pytest` inside another word is not a test run; a command that is not found neither
    assert first_test_run([said("pip show pytest-cov"), saw("")]) is None
    assert not first_test_run([said("pytest"), saw("bash: pytest: command not found", 127)])[  # type: ignore[index]
        "failed"]


def sample(verdict: str | None, first_failed: bool | None, touched: bool = False) -> Sample:
    extra: dict[str, Any] = {"touched_gold_files": touched, "steps": 3, "exit_status": "Submitted",
                             "first_test_run": None if first_failed is None else
                             {"failed": first_failed}}
    return Sample(run_id="r", task_id=f"t{id(extra)}", verdict=verdict, extra=extra)


def test_rows_exist_and_read_right() -> None:
    rows = {m.dimension: m for m in MAP}
    assert set(rows) == {"planning", "editing", "repo_understanding", "debugging"}
    assert set(SweLocal().dimensions) == set(rows)
    dbg = rows["debugging"]
    # counted only where the first test run failed
    assert dbg.outcome(sample("pass", True)) == 1.0
    assert dbg.outcome(sample("fail", True)) == 0.0
    assert dbg.outcome(sample("pass", False)) is None
    assert dbg.outcome(sample("pass", None)) is None
    assert dbg.outcome(sample(None, True)) is None
    assert rows["planning"].outcome(sample("pass", None)) == 1.0
    assert rows["editing"].outcome(sample("fail", None)) == 0.0
    assert rows["repo_understanding"].outcome(sample("fail", None, touched=True)) == 1.0
    assert rows["repo_understanding"].outcome(sample("pass", None, touched=False)) == 0.0
    samples = [sample("pass", True), sample("fail", True), sample("pass", False),
               sample("fail", None)]
    got = summary(samples, "text")
    assert got["debugging"] == {"n": 2, "resolved": 1, "ran_tests": 3}
    table = SweLocal().tables(got, {})[0]
    assert table.rows[0][table.headers.index("resolved after a failing test run")] == "1/2"
