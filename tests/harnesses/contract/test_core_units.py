"""Fast unit tests: settings, store, metrics, endpoint discovery against in-process fakes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from benchdock.harnesses.client.endpoints import probe
from benchdock.harnesses.config import ConfigError, EndpointConfig, Settings
from benchdock.harnesses.contract.metrics import compute_metrics, pass_at_k, wilson
from benchdock.store import queries as q
from benchdock.store import queue
from benchdock.store.db import make_engine, migrate
from benchdock.store.tables import Run, Sample
from tests.conftest import FIXTURES


def test_settings_from_env_and_toml(tmp_path: Path) -> None:
    s = Settings.from_env({"BENCHDOCK_HOME": str(tmp_path)})
    assert [e.url for e in s.endpoints] == ["http://127.0.0.1:8080/v1"]
    assert s.database_url == f"sqlite:///{tmp_path / 'benchdock.db'}" and s.sandbox == "auto"
    cfg = tmp_path / "benchdock.toml"
    cfg.write_text('[[endpoints]]\nname = "box"\nurl = "http://10.0.0.2:8080/v1/"\n'
                   'api_key = "k"\nconcurrency = 4\n')
    s = Settings.from_env({"BENCHDOCK_HOME": str(tmp_path), "BENCHDOCK_CONFIG": str(cfg),
                           "BENCHDOCK_ENDPOINTS": "http://a:1/v1, http://b:2/v1"})
    assert [(e.label, e.url, e.concurrency) for e in s.endpoints] == [
        ("box", "http://10.0.0.2:8080/v1", 4), ("http://a:1/v1", "http://a:1/v1", None),
        ("http://b:2/v1", "http://b:2/v1", None)]
    with pytest.raises(ConfigError, match=r"'podman'.*docker, local, auto"):
        Settings.from_env({"BENCHDOCK_SANDBOX": "podman"})
    with pytest.raises(ConfigError, match="must start with http"):
        Settings.from_env({"BENCHDOCK_ENDPOINTS": "localhost:8080"})


def _run(run_id: str = "r1") -> Run:
    return Run(id=run_id, benchmark="humaneval", benchmark_version="v", dataset_hash="h",
               model="m", endpoint_url="http://x/v1", task_ids=["a", "b"], total=2)


def test_store_migrations_and_exclusive_claim(tmp_path: Path) -> None:
    """SQLite claims through the queue: one holder at a time; a live holder keeps its run; a
    holder whose process is gone loses it at once (the pid check), whatever its lease."""
    import os

    db = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    assert migrate(db) == []  # already applied by make_engine, recorded by name
    q.add_run(db, _run())
    first = queue.claim(db, "w1", None, lease_s=60)
    assert first is not None and first.status == "running" and first.worker_id == "w1"
    assert queue.claim(db, "w1", None, lease_s=60) is None  # nothing else is queued
    # a live worker's run (this test's pid, on this host) is not taken by another
    q.heartbeat(db, "r1", worker_pid=os.getpid(),
                worker_id=f"{socket.gethostname()}:{os.getpid()}:a")
    assert queue.claim(db, "w9", None, lease_s=60) is None
    # a dead worker's run (a pid of this host that no longer exists) is, before its lease ends
    q.heartbeat(db, "r1", worker_pid=999_999_1,
                worker_id=f"{socket.gethostname()}:999999:a")
    again = queue.claim(db, "w2", None, lease_s=60)
    assert again is not None and again.worker_id == "w2" and again.worker_pid == os.getpid()
    # a worker elsewhere is not judged by this host's pids: its lease decides
    q.heartbeat(db, "r1", worker_pid=999_999_1, worker_id="otherhost:999999:c")
    assert queue.claim(db, "w3", None, lease_s=60) is None
    # a PostgreSQL-style claim names its endpoints: a run on another is not taken
    q.add_run(db, _run("r2"))
    assert queue.claim(db, "w3", ["http://elsewhere/v1"], lease_s=60) is None
    assert queue.claim(db, "w3", [], lease_s=60) is None


def test_samples_are_created_once_and_scored_once(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    q.add_run(db, _run())
    assert q.ensure_samples(db, "r1", ["a", "b"], 2) == 4
    assert q.ensure_samples(db, "r1", ["a", "b"], 2) == 4
    rows = q.all_samples(db, "r1")
    assert len(rows) == 4
    q.save_verdict(db, rows[0].id or 0, verdict="pass")
    q.save_verdict(db, rows[0].id or 0, verdict="fail")  # a second verdict never overwrites
    assert q.all_samples(db, "r1")[0].verdict == "pass"
    assert len(q.unscored_samples(db, "r1")) == 3


def test_pass_at_k_and_intervals() -> None:
    per_task = {"a": [True, False, False, False], "b": [False] * 4, "c": [True] * 4}
    out = pass_at_k(per_task, [1, 2])
    assert out["pass@1"]["value"] == pytest.approx((0.25 + 0 + 1) / 3)
    # pass@2 for c=1 of n=4: 1 - C(3,2)/C(4,2) = 0.5
    assert out["pass@2"]["value"] == pytest.approx((0.5 + 0 + 1) / 3)
    lo, hi = wilson(7, 10)
    assert lo == pytest.approx(0.3968, abs=1e-3) and hi == pytest.approx(0.8922, abs=1e-3)


def test_compute_metrics_base_and_plus() -> None:
    samples = [
        Sample(run_id="r", task_id="t1", verdict="pass", base_verdict="pass", plus_verdict="pass"),
        Sample(run_id="r", task_id="t2", verdict="fail", base_verdict="pass", plus_verdict="fail",
               truncated=True),
        Sample(run_id="r", task_id="t3", verdict="error", base_verdict="error", plus_verdict="error"),
    ]
    m = compute_metrics(samples, 1)
    assert m["scores"]["pass@1"]["value"] == pytest.approx(1 / 3)
    assert m["scores_base"]["pass@1"]["value"] == pytest.approx(2 / 3)
    assert m["scores"]["pass@1"]["n"] == 3 and m["truncated"] == 1
    assert m["verdicts"] == {"pass": 1, "fail": 1, "error": 1}


def _fake(routes: dict[str, object]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        key = f"{request.method} {request.url.path}"
        if key in routes:
            return httpx.Response(200, json=routes[key])
        return httpx.Response(404, json={"error": "not found"})

    return httpx.MockTransport(handler)


@pytest.mark.anyio
async def test_probe_llama_server() -> None:
    t = _fake({
        "GET /v1/models": {"data": [{"id": "qwen3-coder", "meta": {"n_ctx_train": 262144,
                                                                  "n_params": 30_500_000_000, "size": 17_000_000_000}}]},
        "GET /props": {"default_generation_settings": {"n_ctx": 65536}, "total_slots": 4,
                       "model_path": "/m/Qwen3-Coder-30B-A3B-Instruct-Q4_K_M.gguf"},
    })
    st = await probe(EndpointConfig(url="http://box:8080/v1"), transport=t)
    m = st.models[0]
    assert st.up and st.server == "llama.cpp"
    assert (m.context_size, m.parallel_slots, m.quantization, m.parameter_count, m.file_size_bytes) == (
        65536, 4, "Q4_K_M", 30_500_000_000, 17_000_000_000)


@pytest.mark.anyio
async def test_probe_ollama_and_vllm() -> None:
    t = _fake({
        "GET /v1/models": {"data": [{"id": "qwen2.5-coder:7b", "owned_by": "library"}]},
        "GET /api/tags": {"models": [{"name": "qwen2.5-coder:7b", "size": 4_683_087_332,
                                      "details": {"parameter_size": "7.6B", "quantization_level": "Q4_K_M"}}]},
        "POST /api/show": {"model_info": {"qwen2.context_length": 32768, "general.parameter_count": 7_615_616_512}},
    })
    st = await probe(EndpointConfig(url="http://box:11434/v1"), transport=t)
    m = st.models[0]
    assert st.server == "ollama"
    assert (m.quantization, m.parameter_size, m.context_size, m.file_size_bytes) == (
        "Q4_K_M", "7.6B", 32768, 4_683_087_332)
    t = _fake({"GET /v1/models": {"data": [{"id": "Qwen/Qwen3-8B", "max_model_len": 40960}]}})
    st = await probe(EndpointConfig(url="http://box:8000/v1"), transport=t)
    assert st.server == "vllm" and st.models[0].context_size == 40960


@pytest.mark.anyio
async def test_probe_down_and_http_error() -> None:
    st = await probe(EndpointConfig(url="http://127.0.0.1:9/v1"), timeout=2)
    assert not st.up and st.error and "Connect" in st.error
    t = httpx.MockTransport(lambda r: httpx.Response(401, json={"error": "no key"}))
    st = await probe(EndpointConfig(url="http://box/v1"), transport=t)
    assert not st.up and "HTTP 401" in (st.error or "")


def test_fixtures_are_in_evalplus_format() -> None:
    for name in ("HumanEvalPlus-mini.jsonl", "MbppPlus-mini.jsonl"):
        for line in (FIXTURES / name).read_text().splitlines():
            task = json.loads(line)
            assert {"task_id", "prompt", "entry_point", "canonical_solution", "contract",
                    "base_input", "plus_input", "atol"} <= set(task)


def _sse(events: list[dict[str, object]]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"


@pytest.mark.anyio
async def test_stream_keeps_reasoning_apart_and_flags_truncation() -> None:
    from benchdock.harnesses.client.llm import SamplingParams, request_body, stream_chat

    chunks = [{"choices": [{"delta": {"reasoning_content": "Let me think. "}}]},
              {"choices": [{"delta": {"reasoning_content": "def wrong(): pass"}}]},
              {"choices": [{"delta": {"content": "```python\ndef f():"}}]},
              {"choices": [{"delta": {}, "finish_reason": "length"}]}]
    t = httpx.MockTransport(lambda r: httpx.Response(200, content=_sse(chunks)))
    async with httpx.AsyncClient(transport=t) as client:
        res = await stream_chat(client, EndpointConfig(url="http://x/v1"),
                                request_body("m", [{"role": "user", "content": "hi"}], SamplingParams()))
    assert res.content == "```python\ndef f():"
    assert res.reasoning == "Let me think. def wrong(): pass"
    assert res.finish_reason == "length" and res.completion_tokens == 3 and res.ttft_s is not None


@pytest.mark.anyio
async def test_a_stream_cut_off_by_the_server_is_asked_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """llama-cpp-python's server (interrupt_requests) ends a stream with [DONE] and no
    finish_reason when another request arrives: that half answer is not the model's."""
    from benchdock.harnesses.client import llm

    monkeypatch.setattr(llm.anyio, "sleep", _no_wait)
    cut = [{"choices": [{"delta": {"content": "def f("}}]}]
    whole = [*cut, {"choices": [{"delta": {"content": "): pass"}}]},
             {"choices": [{"delta": {}, "finish_reason": "stop"}]}]
    answers = [_sse(cut), _sse(whole)]
    t = httpx.MockTransport(lambda r: httpx.Response(200, content=answers.pop(0)))
    body = llm.request_body("m", [{"role": "user", "content": "hi"}], llm.SamplingParams())
    async with httpx.AsyncClient(transport=t) as client:
        res = await llm.chat_with_retries(client, EndpointConfig(url="http://x/v1"), body)
    assert res.content == "def f(): pass" and res.finish_reason == "stop" and res.retries == 1
    t = httpx.MockTransport(lambda r: httpx.Response(200, content=_sse(cut)))
    async with httpx.AsyncClient(transport=t) as client:
        with pytest.raises(llm.EndpointError, match=r"no finish_reason.*interrupt_requests"):
            await llm.chat_with_retries(client, EndpointConfig(url="http://x/v1"), body)


async def _no_wait(_: float) -> None:
    return None


@pytest.mark.anyio
async def test_stream_http_error_names_status() -> None:
    from benchdock.harnesses.client.llm import (
        EndpointError,
        SamplingParams,
        request_body,
        stream_chat,
    )

    t = httpx.MockTransport(lambda r: httpx.Response(400, json={"error": "tools not supported"}))
    async with httpx.AsyncClient(transport=t) as client:
        with pytest.raises(EndpointError, match="HTTP 400") as err:
            await stream_chat(client, EndpointConfig(url="http://x/v1"),
                              request_body("m", [], SamplingParams()))
    assert err.value.status == 400


def test_no_code_reasons() -> None:
    from benchdock.harnesses.engine.executor import no_code_reason

    assert "max_tokens" in no_code_reason(Sample(run_id="r", task_id="t", truncated=True))
    assert "reasoning_content" in no_code_reason(
        Sample(run_id="r", task_id="t", completion="", reasoning="thinking..."))
    assert no_code_reason(Sample(run_id="r", task_id="t", completion="no idea")) == "no code found in the answer"


def test_migration_adds_the_evidence_columns_to_an_older_store(tmp_path: Path) -> None:
    from sqlalchemy import inspect, text

    from benchdock.store.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:  # the store as release 0.1.0 made it
        conn.execute(text("ALTER TABLE sample DROP COLUMN extra"))
        conn.execute(text("ALTER TABLE generation DROP COLUMN tool_calls"))
        conn.execute(text("DELETE FROM schemamigration WHERE name LIKE '0002%'"))
    assert migrate(engine) == ["0002_sample_extra_and_tool_calls"]
    insp = inspect(engine)
    assert "extra" in {c["name"] for c in insp.get_columns("sample")}
    assert "tool_calls" in {c["name"] for c in insp.get_columns("generation")}
    assert migrate(engine) == []
