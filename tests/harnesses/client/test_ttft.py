"""Generation at the endpoint's own speed: requests go unstreamed and time to first token comes
from the server's own timings where it reports them; where it does not, one request in N is
streamed to measure it. Fake endpoints whose answers and timings are known, then the real
endpoint (and a real llama-server when one is named)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from benchdock.harnesses.client import ttft
from benchdock.harnesses.config import ConfigError, Settings
from benchdock.harnesses.contract.benchmark import Verdict
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.engine.executor import RunExecutor
from benchdock.harnesses.sandbox import Sandbox
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from benchdock.store.tables import Run, Sample
from tests.conftest import make_settings

Timings = Callable[[str], dict[str, Any]]  # prompt -> the fields a server adds to its answer


@pytest.fixture(autouse=True)
def _fresh_detection() -> Iterator[None]:
    ttft.forget()
    yield
    ttft.forget()


def llama_timings(prompt: str) -> dict[str, Any]:
    return {"timings": {"prompt_n": len(prompt), "prompt_ms": 10.0 + len(prompt) / 7,
                        "predicted_n": 5, "predicted_ms": 50.0}}


def vllm_metrics(prompt: str) -> dict[str, Any]:
    return {"metrics": {"time_to_first_token_ms": 3.0 + len(prompt) / 11,
                        "generation_time_ms": 40.0}}


class FakeServer:
    """An OpenAI-compatible server answering each prompt with a known answer: one JSON
    chat.completion (with `timings(prompt)` merged in, if given) or, when asked to stream,
    server-sent chunks. It records whether each request streamed."""

    def __init__(self, answers: dict[str, str], timings: Timings | None = None,
                 delay_s: float = 0.0) -> None:
        self.answers, self.timings, self.delay_s = answers, timings, delay_s
        self.streamed: list[bool] = []
        self.expected_ttft: dict[str, float] = {}

    async def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        prompt = body["messages"][-1]["content"]
        text = self.answers[prompt]
        self.streamed.append(bool(body.get("stream")))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if body.get("stream"):
            events = [{"choices": [{"delta": {"content": text[i:i + 20]}}]}
                      for i in range(0, len(text), 20)]
            events.append({"choices": [{"delta": {}, "finish_reason": "stop"}]})
            sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            return httpx.Response(200, content=sse.encode(),
                                  headers={"content-type": "text/event-stream"})
        data: dict[str, Any] = {
            "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5}}
        if self.timings:
            data.update(self.timings(prompt))
            got = ttft.server_ttft(data)
            assert got is not None
            self.expected_ttft[prompt] = got[0]
        return httpx.Response(200, json=data)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def make_run(db: object, n: int, run_id: str = "r", model: str = "fake",
             url: str = "http://fake/v1", start: int = 0,
             max_tokens: int = 768) -> tuple[Run, dict[str, str]]:
    """A run of HumanEval tasks start..start+n at concurrency 1 (requests in task order)."""
    bench = get_benchmark("humaneval")
    tasks = bench.tasks()[start:start + n]
    run = Run(id=run_id, benchmark="humaneval", benchmark_version=bench.version,
              dataset_hash="h", model=model, endpoint_url=url, task_ids=[t.id for t in tasks],
              total=n, status="running", concurrency=1,
              params={"temperature": 0.0, "top_p": 0.95, "max_tokens": max_tokens})
    q.add_run(db, run)  # type: ignore[arg-type]
    return run, {bench.messages(t)[-1]["content"]: bench.reference(t) for t in tasks}


def settings_with(tmp_path: Path, every: str | None = None, url: str = "http://fake/v1",
                  sandbox: str = "local") -> Settings:
    s = make_settings(tmp_path, url, sandbox=sandbox)
    if every is not None:
        s.variables = {**s.variables, "BENCHDOCK_TTFT_STREAM_EVERY": every}
    return s


def prompt_of(s: Sample) -> str:
    bench = get_benchmark("humaneval")
    task = next(t for t in bench.tasks() if t.id == s.task_id)
    return bench.messages(task)[-1]["content"]


def test_server_ttft_reads_each_servers_field() -> None:
    assert ttft.server_ttft({"timings": {"prompt_ms": 250.0}}) == (0.25, "llama.cpp timings.prompt_ms")
    assert ttft.server_ttft({"metrics": {"time_to_first_token_ms": 85.2}}) == (
        pytest.approx(0.0852), "vllm metrics.time_to_first_token_ms")
    assert ttft.server_ttft({"stats": {"time_to_first_token": 0.4}}) == (
        0.4, "lmstudio stats.time_to_first_token")
    assert ttft.server_ttft({"prompt_eval_duration": 13_000_000, "load_duration": 2_000_000}) == (
        pytest.approx(0.015), "ollama prompt_eval_duration")
    # what llama-cpp-python and ollama's /v1 answer: nothing usable
    for data in ({}, {"usage": {"prompt_tokens": 3}}, {"timings": {"prompt_ms": None}},
                 {"timings": {"prompt_ms": -1}}, {"timings": "x"}, {"stats": {"time_to_first_token": True}}):
        assert ttft.server_ttft(data) is None


def test_stream_every_setting() -> None:
    assert ttft.stream_every(None) == ttft.STREAM_EVERY_DEFAULT
    assert ttft.stream_every(" 3 ") == 3
    for bad in ("0", "-2", "often"):
        with pytest.raises(ConfigError, match="BENCHDOCK_TTFT_STREAM_EVERY"):
            ttft.stream_every(bad)


@pytest.mark.parametrize(("timings", "field"), [(llama_timings, "llama.cpp timings.prompt_ms"),
                                                (vllm_metrics, "vllm metrics.time_to_first_token_ms")])
def test_endpoint_with_timings_is_asked_unstreamed_and_its_ttft_recorded(
        tmp_path: Path, timings: Timings, field: str) -> None:
    settings = settings_with(tmp_path)
    db = make_engine(settings.database_url)
    run, answers = make_run(db, 4)
    server = FakeServer(answers, timings)
    status = anyio.run(RunExecutor(settings, db, run, server.transport()).execute)
    assert status == "succeeded"
    assert server.streamed == [False] * 4
    samples = q.all_samples(db, run.id)
    assert {s.verdict for s in samples} == {"pass"}
    for s in samples:  # the server's own figure, to the float
        assert s.ttft_s == server.expected_ttft[prompt_of(s)]
        assert s.extra == {"ttft_source": field}
    done = q.get_run(db, run.id)
    assert done is not None and done.metrics is not None
    timing = done.metrics["timing"]
    assert timing["ttft_sources"] == {field: 4}
    assert timing["mean_ttft_s"] == pytest.approx(sum(server.expected_ttft.values()) / 4)
    assert ttft.known("http://fake/v1", "fake").reports is True


def test_endpoint_without_timings_streams_one_request_in_n(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, every="2")
    db = make_engine(settings.database_url)
    run, answers = make_run(db, 5)
    server = FakeServer(answers)
    assert anyio.run(RunExecutor(settings, db, run, server.transport()).execute) == "succeeded"
    # the first answer shows there are no timings; then the first and every second stream
    assert server.streamed == [False, True, False, True, False]
    samples = q.all_samples(db, run.id)
    streamed = [s for s in samples if (s.extra or {}).get("ttft_source") == "streamed"]
    plain = [s for s in samples if (s.extra or {}).get("ttft_source") is None]
    assert len(streamed) == 2 and len(plain) == 3
    assert all(s.ttft_s is not None and 0 < s.ttft_s <= (s.latency_s or 0) for s in streamed)
    assert all(s.ttft_s is None for s in plain)
    done = q.get_run(db, run.id)
    assert done is not None and done.metrics is not None
    assert done.metrics["timing"]["ttft_sources"] == {"streamed": 2, "none": 3}
    assert done.metrics["timing"]["mean_ttft_s"] is not None
    # the CLI's summary says why most answers have none (a bare "none: 3" read like a fault)
    from benchdock.server.cli_run import ttft_sources
    said = ttft_sources(done.metrics["timing"])
    assert said.startswith(" (2 of 5 answers measured: streamed 2;"), said
    assert "BENCHDOCK_TTFT_STREAM_EVERY" in said

    # detected once: the next run on this endpoint and model streams from its first request
    # (with BENCHDOCK_TTFT_STREAM_EVERY=1, every request)
    again, answers2 = make_run(db, 3, run_id="r2", start=5)
    server2 = FakeServer(answers2)
    settings1 = settings_with(tmp_path, every="1")
    assert anyio.run(RunExecutor(settings1, db, again, server2.transport()).execute) == "succeeded"
    assert server2.streamed == [True, True, True]
    assert all(s.ttft_s is not None for s in q.all_samples(db, "r2"))


def test_detection_is_per_endpoint_and_model_and_follows_a_changed_server(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, every="4")
    db = make_engine(settings.database_url)
    run, answers = make_run(db, 2, model="plain")
    plain = FakeServer(answers)
    assert anyio.run(RunExecutor(settings, db, run, plain.transport()).execute) == "succeeded"
    assert ttft.known("http://fake/v1", "plain").reports is False
    assert ttft.known("http://fake/v1", "other").reports is None  # another model: not known
    # the same endpoint and model now report timings (a llama-server put behind the URL):
    # the next unstreamed answer shows it and the run after goes unstreamed throughout
    run2, answers2 = make_run(db, 4, run_id="r2", model="plain", start=2)
    timed = FakeServer(answers2, llama_timings)
    assert anyio.run(RunExecutor(settings, db, run2, timed.transport()).execute) == "succeeded"
    # streamed first (known: no timings), the second answer shows timings, unstreamed since
    assert timed.streamed == [True, False, False, False]
    assert ttft.known("http://fake/v1", "plain").reports is True


def test_timeouts_met_while_generation_runs_are_scored_again(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A job that timed out at low priority beside the model may have been starved: its
    verdict is decided again at full priority once generation is over."""
    settings = settings_with(tmp_path)
    db = make_engine(settings.database_url)
    run, answers = make_run(db, 3)
    server = FakeServer(answers, llama_timings, delay_s=0.5)
    ex = RunExecutor(settings, db, run, server.transport())
    calls: list[bool] = []
    real_score = ex.bench.score

    def starved_while_generating(task: Any, code: str, sandbox: Sandbox) -> Verdict:
        calls.append(sandbox.background)
        if sandbox.background:  # as a starved job would end
            return Verdict(verdict="timeout", detail="timed out after 3 s")
        return real_score(task, code, sandbox)  # type: ignore[arg-type]

    monkeypatch.setattr(ex.bench, "score", starved_while_generating)
    assert anyio.run(ex.execute) == "succeeded"
    assert True in calls, "no answer was scored while the model generated"
    assert calls.count(False) == 3  # every sample ends with a full-priority verdict
    assert {s.verdict for s in q.all_samples(db, run.id)} == {"pass"}


# ---- the real endpoint (and a real llama-server when one is named) -------------------------

class RecordingTransport(httpx.AsyncBaseTransport):
    """The real network, keeping each unstreamed chat completion's JSON by prompt."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.plain: dict[str, dict[str, Any]] = {}
        self.streamed: list[bool] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        resp = await self.inner.handle_async_request(request)
        if "messages" not in body:
            return resp
        self.streamed.append(bool(body.get("stream")))
        content = await resp.aread()
        if not body.get("stream") and resp.status_code == 200:
            self.plain[body["messages"][-1]["content"]] = json.loads(content)
        headers = {k: v for k, v in resp.headers.items()
                   if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")}
        return httpx.Response(resp.status_code, headers=headers, content=content)

    async def aclose(self) -> None:
        await self.inner.aclose()


def check_real_endpoint(tmp_path: Path, url: str, model: str) -> dict[str, Any]:
    """Three HumanEval tasks (48 tokens each) with one request in two streamed where the
    server gives no timings; every sample's time to first token must be the server's own
    figure (timings) or our clock on a streamed request, and nothing else."""
    settings = settings_with(tmp_path, every="2", url=url)
    db = make_engine(settings.database_url)
    run, _ = make_run(db, 3, run_id="real", model=model, url=url, max_tokens=48)
    rec = RecordingTransport()
    status = anyio.run(RunExecutor(settings, db, run, rec).execute)
    assert status == "succeeded", q.get_run(db, "real")
    samples = q.all_samples(db, "real")
    first = rec.plain[prompt_of(samples[0])] if rec.streamed and not rec.streamed[0] else None
    assert first is not None, "the first request must go unstreamed: its answer tells"
    reported = ttft.server_ttft(first)
    if reported is not None:  # the server reports timings: unstreamed, its figures recorded
        assert rec.streamed == [False] * 3
        for s in samples:
            expected = ttft.server_ttft(rec.plain[prompt_of(s)])
            assert expected is not None and s.ttft_s == expected[0]
            assert s.extra == {"ttft_source": expected[1]}
    else:  # it does not: the second request streamed, its ttft is our clock; the others none
        assert rec.streamed == [False, True, False]
        for s in samples:
            source = (s.extra or {}).get("ttft_source")
            assert (source == "streamed") == (prompt_of(s) not in rec.plain)
            assert (s.ttft_s is not None) == (source == "streamed")
    return {"reported": reported, "first": first, "samples": samples}


def test_real_endpoint_ttft_provenance(tmp_path: Path, endpoint_url: str) -> None:
    out = check_real_endpoint(tmp_path, endpoint_url, os.environ.get("BENCHDOCK_TEST_MODEL", "smollm2-135m"))
    if out["reported"] is None:  # what the demo (llama-cpp-python 0.3.36) answers today
        assert "timings" not in out["first"]
        assert ttft.known(endpoint_url, "smollm2-135m").reports is False


def test_llama_server_ttft_comes_from_its_timings(tmp_path: Path) -> None:
    """A real llama-server (BENCHDOCK_TEST_LLAMA_SERVER=http://host:port/v1): its unstreamed
    answers carry `timings`, so no request streams and each recorded ttft is its prompt_ms."""
    url = os.environ.get("BENCHDOCK_TEST_LLAMA_SERVER")
    if not url:
        if os.environ.get("BENCHDOCK_REQUIRE_LLAMA_SERVER", "") in ("1", "true", "yes"):
            pytest.fail("BENCHDOCK_REQUIRE_LLAMA_SERVER=1 but BENCHDOCK_TEST_LLAMA_SERVER is not set")
        pytest.skip("no llama-server named (BENCHDOCK_TEST_LLAMA_SERVER)")
    model = httpx.get(f"{url}/models", timeout=10).json()["data"][0]["id"]
    out = check_real_endpoint(tmp_path, url, model)
    assert out["reported"] is not None and out["reported"][1] == "llama.cpp timings.prompt_ms"
    assert all(s.ttft_s is not None and 0 < s.ttft_s < (s.latency_s or 0) for s in out["samples"])
