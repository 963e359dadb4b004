"""A sample of the real polyglot exercises (`../shared/datasets/polyglot-benchmark`, or
BENCHDOCK_POLYGLOT_DIR), two or more per language, judged by the harness's own verdict code
with the reference solution (must pass, every test the exercise defines reported passed) and
with the untouched stub (must fail); then one per language through the whole path — aider in
the polyglot image, benchdock's proxy, the run engine — with a fake model answering the
reference, and two answering the stub. `tests/scripts/polyglot_sweep.py` runs all 225 the same way.

Chosen so each language's runner and its special cases are exercised: a Java reference with
a class the stub lacks (bowling) and one needing org.json (rest-api); JavaScript tests that
are `xtest` (two-bucket) and `xit`, which stay skipped as in Aider's benchmark (grep); C++
with threads (bank-account); Go's error types (error-handling); Python reading files (grep);
Rust with a module tree (forth)."""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import pytest

from benchdock.harnesses.benchmarks.aider.exercises import Exercise, load_exercises
from benchdock.harnesses.benchmarks.aider.selfcheck import judge_files, stub_files
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.engine.executor import RunExecutor
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from benchdock.store.tables import Run
from tests.conftest import POLYGLOT_REAL, make_settings
from tests.harnesses.benchmarks.aider.test_aider_adversarial import image  # noqa: F401  (fixture: the polyglot image)
from tests.harnesses.benchmarks.aider.test_aider_fake_model import whole_edit
from tests.harnesses.benchmarks.bfcl.test_bfcl_fake_model import fake_endpoint
from tests.scripts.polyglot_sweep import recogniser, summarising

SAMPLE = {
    "cpp": ["all-your-base", "bank-account"],
    "go": ["bowling", "error-handling"],
    "java": ["bowling", "rest-api"],
    "javascript": ["two-bucket", "grep"],
    "python": ["grep", "zipper"],
    "rust": ["acronym", "forth"],
}
THROUGH_AIDER = ["cpp/all-your-base", "go/error-handling", "java/rest-api", "javascript/grep",
                 "python/zipper", "rust/acronym"]
STUBBED = ["python/grep", "javascript/two-bucket"]


def real_tree() -> Path:
    root = Path(os.environ.get("BENCHDOCK_POLYGLOT_DIR") or POLYGLOT_REAL)
    if not (root / "java" / "exercises" / "practice").is_dir():
        if os.environ.get("BENCHDOCK_REQUIRE_AIDER") == "1":
            pytest.fail(f"BENCHDOCK_REQUIRE_AIDER=1 but no polyglot exercise tree at {root}")
        pytest.skip(f"no polyglot exercise tree at {root} (BENCHDOCK_POLYGLOT_DIR)")
    return root


def sample(language: str, names: list[str]) -> list[Exercise]:
    found = {e.name: e for e in load_exercises(real_tree(), [language])}
    return [found[n] for n in names]


@pytest.mark.parametrize("language", list(SAMPLE))
def test_real_references_pass_and_stubs_fail_in_every_language(language: str,
                                                               image: str) -> None:  # noqa: F811
    jobs = [(ex, which) for ex in sample(language, SAMPLE[language])
            for which in ("reference", "stub")]

    def judged(job: tuple[Exercise, str]) -> dict[str, Any]:
        ex, which = job
        files = ex.example_solution() if which == "reference" else stub_files(ex)
        return judge_files(ex, files, image)

    with ThreadPoolExecutor(max_workers=2) as pool:
        verdicts = list(pool.map(judged, jobs))
    for (ex, which), got in zip(jobs, verdicts, strict=True):
        report = got.get("report") or {}
        if which == "reference":
            assert got.get("passed") is True, (ex.id, report.get("reason"), got.get("output"))
            assert report["missing_count"] == 0 and report["failed"] == 0
            assert report["passed"] == len(ex.expected_tests()) > 0, (ex.id, report)
        else:
            assert got.get("passed") is False and report.get("verdict") == "fail", (ex.id, got)
            assert report.get("reason"), (ex.id, report)


def test_real_exercises_through_aider_the_proxy_and_the_engine(aider_ready: str,
                                                               image: str) -> None:  # noqa: F811
    ids = THROUGH_AIDER + STUBBED
    exercises = [sample(lang, [name])[0] for lang, name in (tid.split("/") for tid in ids)]
    known = recogniser(exercises)
    seen: list[dict[str, Any]] = []

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        if summarising(body):
            return {"content": "I was asked to edit the solution files; the tests then ran."}
        ex = known(body)
        files = stub_files(ex) if ex.id in STUBBED else ex.example_solution()
        return {"content": whole_edit(ex, files)}

    with tempfile.TemporaryDirectory() as home:
        settings = make_settings(Path(home), "http://fake/v1")
        settings.variables["BENCHDOCK_POLYGLOT_DIR"] = str(real_tree())
        db = make_engine(settings.database_url)
        bench = get_benchmark("aider-polyglot", settings)
        run = Run(id="real-sample", benchmark="aider-polyglot", benchmark_version=bench.version,
                  dataset_hash="real", model="fake", endpoint_url="http://fake/v1",
                  task_ids=ids, total=len(ids), status="running", concurrency=2,
                  params={"temperature": 0.0, "top_p": 1.0, "max_tokens": 4096,
                          "options": {"edit_format": "whole"}})
        q.add_run(db, run)
        status = anyio.run(RunExecutor(settings, db, run, fake_endpoint(answer, seen)).execute)
        done = q.get_run(db, run.id)
        assert status == "succeeded", done.error if done else None
        by_id = {s.task_id: s for s in q.all_samples(db, run.id)}
    assert set(by_id) == set(ids)
    for tid in THROUGH_AIDER:
        s = by_id[tid]
        assert s.verdict == "pass" and s.extra and s.extra["passed_on"] == 1, (tid, s.detail)
        report = s.extra["attempts"][0]["report"]
        assert report["missing_count"] == 0 and report["passed"] == report["expected"] > 0
    for tid in STUBBED:  # the stub, sent again after the test output: fails twice
        s = by_id[tid]
        assert s.verdict == "fail" and s.extra, (tid, s.detail)
        assert s.extra["tests_outcomes"] == [False, False], (tid, s.extra["tests_outcomes"])
        assert all(a["report"]["verdict"] == "fail" for a in s.extra["attempts"])
    # attempt 2 carried the real test output of the stub back to the model
    assert any("See the testing errors above" in str(b["messages"][-1]["content"]) for b in seen)
