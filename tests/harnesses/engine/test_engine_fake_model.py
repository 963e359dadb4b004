"""The whole run engine against in-process fake models whose answers are known: the
reference solutions score 100%, wrong answers 0%, and an endpoint that fails leaves a failed
run whose finished samples survive and which resumes to completion."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx
import pytest

from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.engine.executor import RunExecutor
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from benchdock.store.tables import Run
from tests.conftest import make_settings


def fake_endpoint(answer: Callable[[str], str | None]) -> httpx.MockTransport:
    """Answers `answer(user message)`, as chat chunks when the request streams (else as one
    chat.completion, without timings); None means HTTP 500."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        text = answer(body["messages"][-1]["content"])
        if text is None:
            return httpx.Response(500, json={"error": "model crashed"})
        if not body.get("stream"):
            return httpx.Response(200, json={"choices": [{"message": {"content": text},
                                                          "finish_reason": "stop"}]})
        events = [{"choices": [{"delta": {"content": text[i:i + 20]}}]} for i in range(0, len(text), 20)]
        events.append({"choices": [{"delta": {}, "finish_reason": "stop"}]})
        sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return httpx.Response(200, content=sse.encode(), headers={"content-type": "text/event-stream"})

    return httpx.MockTransport(handler)


def make_run(db: object, benchmark: str, n: int) -> tuple[Run, dict[str, str]]:
    bench = get_benchmark(benchmark)
    tasks = bench.tasks()[:n]
    run = Run(id=f"fake-{benchmark}", benchmark=benchmark, benchmark_version=bench.version,
              dataset_hash="h", model="fake", endpoint_url="http://fake/v1",
              task_ids=[t.id for t in tasks], total=n, status="running",
              params={"temperature": 0.0, "top_p": 0.95, "max_tokens": 768})
    q.add_run(db, run)  # type: ignore[arg-type]
    by_prompt = {bench.messages(t)[-1]["content"]: bench.reference(t) for t in tasks}
    return run, by_prompt


@pytest.mark.parametrize("benchmark", ["humaneval", "humaneval-plus", "mbpp-plus"])
def test_reference_answers_score_full_marks_and_wrong_ones_zero(tmp_path: Path, benchmark: str) -> None:
    settings = make_settings(tmp_path, "http://fake/v1", sandbox="local")
    db = make_engine(settings.database_url)
    run, by_prompt = make_run(db, benchmark, 3)
    status = anyio.run(RunExecutor(settings, db, run, fake_endpoint(by_prompt.get)).execute)
    assert status == "succeeded"
    done = q.get_run(db, run.id)
    assert done is not None and done.metrics is not None
    assert done.metrics["scores"]["pass@1"]["value"] == 1.0 and done.metrics["scores"]["pass@1"]["n"] == 3

    wrong = Run.model_validate({**run.model_dump(), "id": "wrong", "params": {"temperature": 0.0, "max_tokens": 700}})
    q.add_run(db, wrong)
    status = anyio.run(RunExecutor(settings, db, wrong, fake_endpoint(
        lambda _: "```python\ndef nope():\n    return 0\n```")).execute)
    assert status == "succeeded"
    res = q.get_run(db, "wrong")
    assert res is not None and res.metrics is not None
    assert res.metrics["scores"]["pass@1"]["value"] == 0.0
    assert all(s.detail for s in q.all_samples(db, "wrong"))


def test_failing_endpoint_fails_the_run_and_resume_completes_it(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "http://fake/v1", sandbox="local")
    db = make_engine(settings.database_url)
    run, by_prompt = make_run(db, "humaneval", 4)
    prompts = list(by_prompt)
    # the endpoint answers the first two tasks, then fails on the third
    flaky = fake_endpoint(lambda p: by_prompt[p] if p in prompts[:2] else None)
    status = anyio.run(RunExecutor(settings, db, run, flaky).execute)
    assert status == "failed"
    failed = q.get_run(db, run.id)
    assert failed is not None and "HTTP 500" in (failed.error or "") and "http://fake/v1" in (failed.error or "")
    kept = [s for s in q.all_samples(db, run.id) if s.verdict]
    assert sorted(s.task_id for s in kept) == ["HumanEval/0", "HumanEval/1"]
    # resumed against a healthy endpoint: only the missing tasks are asked for
    asked: list[str] = []

    def healthy(p: str) -> str:
        asked.append(p)
        return by_prompt[p]

    again = q.get_run(db, run.id)
    assert again is not None
    status = anyio.run(RunExecutor(settings, db, again, fake_endpoint(healthy)).execute)
    assert status == "succeeded"
    assert sorted(asked) == sorted(prompts[2:])
    samples = q.all_samples(db, run.id)
    assert len(samples) == 4 and all(s.verdict == "pass" for s in samples)


def test_a_scorer_tripping_on_one_answer_does_not_stop_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected error while scoring one answer is that sample's error verdict; the run
    succeeds, and a resume does not meet it again."""
    from benchdock.harnesses.benchmarks.evalplus.benchmark import HumanEval

    settings = make_settings(tmp_path, "http://fake/v1", sandbox="local")
    db = make_engine(settings.database_url)
    run, by_prompt = make_run(db, "humaneval", 3)
    real = HumanEval.score

    def score(self: HumanEval, task: object, code: str, sandbox: object) -> object:
        if getattr(task, "id", "") == "HumanEval/1":
            raise ValueError("checker tripped")
        return real(self, task, code, sandbox)  # type: ignore[arg-type]

    monkeypatch.setattr(HumanEval, "score", score)
    status = anyio.run(RunExecutor(settings, db, run, fake_endpoint(by_prompt.get)).execute)
    assert status == "succeeded"
    by_task = {s.task_id: s for s in q.all_samples(db, run.id)}
    assert by_task["HumanEval/1"].verdict == "error"
    assert "checker tripped" in (by_task["HumanEval/1"].detail or "")
    assert by_task["HumanEval/0"].verdict == by_task["HumanEval/2"].verdict == "pass"
    assert q.unscored_samples(db, run.id) == []
