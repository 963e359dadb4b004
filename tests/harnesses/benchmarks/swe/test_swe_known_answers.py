"""swe-local against known answers, through real mini-swe-agent, the recording proxy and
real Docker: a fake model plays the agent with scripted bash commands (the text protocol of
mini-swe-agent's swebench_backticks.yaml). Applying the gold patch and submitting resolves
the instance; submitting an empty diff does not; the gold patch plus a change that breaks a
PASS_TO_PASS test does not; a model that never submits meets the step limit. Every
container the run started is gone afterwards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchdock.harnesses.benchmarks.swe.construct import Instance
from benchdock.store import queries as q
from tests.harnesses.benchmarks.bfcl.test_bfcl_fake_model import fake_endpoint
from tests.server.test_e2e import owned_containers
from tests.support.swe_support import run_swe, scripted, swe_settings

SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && cat patch.txt"
BREAK_FIRST = r"sed -i 's/^    return next(iter(seq))$/    return None/' toolz/itertoolz.py"


def instances(settings: Any) -> list[Instance]:
    from benchdock.harnesses.contract.registry import get_benchmark

    bench = get_benchmark("swe-local", settings)
    return bench.instances()  # type: ignore[attr-defined, no-any-return]


def apply(patch: str, then: str = "") -> str:
    return (f"cat > /tmp/gold.patch <<'BENCHDOCK_PATCH_END'\n{patch}BENCHDOCK_PATCH_END\n"
            f"git apply /tmp/gold.patch {('&& ' + then) if then else ''}&& git diff > patch.txt")


def test_gold_resolves_empty_and_p2p_breaking_do_not(tmp_path: Path) -> None:
    settings = swe_settings(tmp_path, "http://fake/v1")
    insts = instances(settings)
    gold, empty, broken = insts[0], insts[1], insts[2]
    assert "toolz/tests/test_itertoolz.py::test_first" in broken.PASS_TO_PASS
    plan = {gold.problem_statement: [apply(gold.patch), SUBMIT],
            empty.problem_statement: ["echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"],
            broken.problem_statement: [apply(broken.patch, BREAK_FIRST), SUBMIT]}

    def steps(n: int, task: str) -> str:
        todo = next(v for k, v in plan.items() if k in task)
        return todo[min(n, len(todo) - 1)]

    status, run, db = run_swe(settings, [gold.instance_id, empty.instance_id,
                                         broken.instance_id],
                              fake_endpoint(scripted(steps)), {"step_limit": 5})
    assert status == "succeeded", run.error
    got = {s.task_id: s for s in q.all_samples(db, run.id)}
    g, e, b = got[gold.instance_id], got[empty.instance_id], got[broken.instance_id]
    assert g.verdict == "pass", g.detail
    assert g.extra["exit_status"] == "Submitted" and g.extra["steps"] == 2
    assert g.extra["FAIL_TO_PASS"]["success"] == gold.FAIL_TO_PASS
    assert g.extra["touched_gold_files"] and g.extra["grading_agrees"]
    assert e.verdict == "fail" and "no patch submitted" in (e.detail or "")
    assert e.extra["FAIL_TO_PASS"]["failure"] == empty.FAIL_TO_PASS
    assert b.verdict == "fail", b.detail
    assert b.extra["FAIL_TO_PASS"]["failure"] == []
    assert "toolz/tests/test_itertoolz.py::test_first" in b.extra["PASS_TO_PASS"]["failure"]
    assert all(s.extra["grading_agrees"] for s in (g, e, b))
    details = run.metrics["swe"]
    assert details["resolved"] == 1 and details["n"] == 3
    assert details["ci95"][0] < 1 / 3 < details["ci95"][1]
    assert json.dumps(g.extra["trajectory"])  # stored as evidence
    assert owned_containers(__import__("os").getpid()) == []


def test_a_model_that_never_submits_meets_the_step_limit(tmp_path: Path) -> None:
    settings = swe_settings(tmp_path, "http://fake/v1")
    inst = instances(settings)[0]
    status, run, db = run_swe(settings, [inst.instance_id],
                              fake_endpoint(scripted(lambda n, task: "ls")),
                              {"step_limit": 3}, run_id="swe-limit")
    assert status == "succeeded", run.error
    (s,) = q.all_samples(db, run.id)
    assert s.verdict == "fail"
    assert s.extra["exit_status"] == "LimitsExceeded" and s.extra["steps"] == 3
    assert [st["commands"] for st in s.extra["trajectory"] if st["role"] == "assistant"] == \
        [["ls"]] * 3
