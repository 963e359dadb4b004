"""Scoring takes turns with generation when the endpoint is on this machine (turns.py): no
answer is scored while a request is in flight, verdicts still arrive a batch at a time, and
every sample is scored once; with the endpoint elsewhere (or BENCHDOCK_SCORING=overlap)
scoring runs beside generation. Through the real run engine and the local sandbox, against
an in-process fake model whose answers are the reference solutions."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import anyio
import httpx
import pytest
from sqlmodel import Session

from benchdock.harnesses.benchmarks.evalplus.benchmark import HumanEval
from benchdock.harnesses.config import ConfigError
from benchdock.harnesses.engine.executor import RunExecutor
from benchdock.harnesses.engine.turns import on_this_machine, scoring_mode
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from benchdock.store.tables import Run
from tests.conftest import make_settings
from tests.harnesses.engine.test_engine_fake_model import make_run

TASKS = 20
DELAY_S = 0.15  # one request's generation


def test_the_mode_follows_where_the_endpoint_and_the_engine_are(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    for url in ("http://127.0.0.1:8080/v1", "http://localhost:11434/v1", "http://[::1]:8000/v1",
                "http://0.0.0.0:8080/v1"):
        assert scoring_mode(None, url)[0] == "turns", url
    mode, why = scoring_mode("auto", "http://gpu-box.example:8000/v1")
    assert mode == "overlap" and "gpu-box.example" in why
    assert not on_this_machine("10.11.12.13")
    assert scoring_mode("overlap", "http://127.0.0.1:8080/v1")[0] == "overlap"
    assert scoring_mode(" TURNS ", "http://gpu-box.example/v1")[0] == "turns"
    monkeypatch.setenv("DOCKER_HOST", "tcp://docker-box:2376")
    mode, why = scoring_mode(None, "http://127.0.0.1:8080/v1")
    assert mode == "overlap" and "tcp://docker-box:2376" in why
    with pytest.raises(ConfigError, match=r"'sideways'.*auto, turns, overlap"):
        scoring_mode("sideways", "http://127.0.0.1/v1")


class Timeline:
    """Each request's and each scoring's (start, end) on one clock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[float, float]] = []
        self.scorings: list[tuple[float, float]] = []
        self.extracts: list[tuple[float, float, str]] = []  # (start, end, the answer)

    def overlapping(self) -> int:
        return sum(1 for a, b in self.scorings for c, d in self.requests if a < d and c < b)


def run_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str,
             scoring: str | None) -> tuple[Timeline, list[float], list[float]]:
    if scoring is None:
        monkeypatch.delenv("BENCHDOCK_SCORING", raising=False)
    else:
        monkeypatch.setenv("BENCHDOCK_SCORING", scoring)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    settings = make_settings(tmp_path, url, sandbox="local")
    db = make_engine(settings.database_url)
    run, by_prompt = make_run(db, "humaneval", TASKS)
    with Session(db, expire_on_commit=False) as s:  # the run's endpoint: where the model is
        stored = s.get(Run, run.id)
        assert stored is not None
        stored.endpoint_url = url
        s.add(stored)
        s.commit()
        run = stored
    line = Timeline()

    async def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        start = time.monotonic()
        await anyio.sleep(DELAY_S)
        with line.lock:
            line.requests.append((start, time.monotonic()))
        text = by_prompt[body["messages"][-1]["content"]]
        if not body.get("stream"):
            return httpx.Response(200, json={"choices": [{"message": {"content": text},
                                                          "finish_reason": "stop"}]})
        events = [{"choices": [{"delta": {"content": text}}]},
                  {"choices": [{"delta": {}, "finish_reason": "stop"}]}]
        sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return httpx.Response(200, content=sse.encode(),
                              headers={"content-type": "text/event-stream"})

    real = HumanEval.score

    def score(self: HumanEval, task: object, code: str, sandbox: object) -> object:
        start = time.monotonic()
        try:
            return real(self, task, code, sandbox)  # type: ignore[arg-type]
        finally:
            with line.lock:
                line.scorings.append((start, time.monotonic()))

    monkeypatch.setattr(HumanEval, "score", score)
    real_extract = HumanEval.extract

    def extract(self: HumanEval, task: object, completion: str) -> str:
        start = time.monotonic()
        try:
            return real_extract(self, task, completion)  # type: ignore[arg-type]
        finally:
            with line.lock:
                line.extracts.append((start, time.monotonic(), completion))

    monkeypatch.setattr(HumanEval, "extract", extract)
    status = anyio.run(RunExecutor(settings, db, run, httpx.MockTransport(handler)).execute)
    assert status == "succeeded"
    samples = q.all_samples(db, run.id)
    assert len(samples) == TASKS and all(s.verdict == "pass" for s in samples), [
        (s.task_id, s.verdict, s.detail) for s in samples]
    assert len(line.scorings) == TASKS and len(line.requests) == TASKS  # each once
    generated = sorted(s.generated_at.timestamp() for s in samples if s.generated_at)
    scored = sorted(s.scored_at.timestamp() for s in samples if s.scored_at)
    return line, generated, scored


def test_with_the_endpoint_here_scoring_waits_for_no_request_in_flight(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    line, generated, scored = run_with(tmp_path, monkeypatch, "http://127.0.0.1:9/v1", None)
    assert line.overlapping() == 0, (line.scorings, line.requests)
    # in batches, not all at the end: verdicts were stored while answers were still coming
    assert scored[0] < generated[-1]


def test_with_the_endpoint_elsewhere_scoring_runs_beside_generation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    line, _, _ = run_with(tmp_path, monkeypatch, "http://gpu-box.example:8000/v1", None)
    assert line.overlapping() > 0  # the control: the check above can fail


def test_overlap_can_be_chosen_for_an_endpoint_here(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    line, _, _ = run_with(tmp_path, monkeypatch, "http://127.0.0.1:9/v1", "overlap")
    assert line.overlapping() > 0


def test_the_extractor_is_warmed_before_the_first_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first extract imports the extractor's modules (EvalPlus's sanitiser pulls in
    `datasets` and pandas: ~1.4 s of CPU); it runs on an empty answer before the first request,
    not beside the model generating the second answer."""
    line, _, _ = run_with(tmp_path, monkeypatch, "http://127.0.0.1:9/v1", None)
    first_request = min(start for start, _ in line.requests)
    warm = line.extracts[0]
    assert warm[2] == "" and warm[1] <= first_request, (warm, first_request)
    assert [c for _, _, c in line.extracts].count("") == 1  # once, then one per answer
    assert len(line.extracts) == TASKS + 1
