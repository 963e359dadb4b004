"""Lemonade Server (issue 23), against a fake that follows its documented API: discovery
recognises it (its models, what is loaded, that it swaps), runs of two models on it never
alternate request by request, every unstreamed request gets its time to first token from
/api/v1/stats, decide measures its switch; and with no endpoint configured, discovery looks
on the usual local ports and says what it found."""

from __future__ import annotations

import itertools
import socket
import time
from pathlib import Path

import anyio
import pytest

from benchdock.harnesses.client.endpoints import probe
from benchdock.harnesses.client.ttft import LEMONADE_STATS
from benchdock.harnesses.config import EndpointConfig, Settings
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.service import discovery
from benchdock.harnesses.service import operations as service
from benchdock.harnesses.service.views import RunRequest
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from benchdock.store.tables import FINAL_STATUSES
from tests.conftest import make_settings
from tests.support.fake_lemonade import lemonade_server


def test_discovery_recognises_lemonade() -> None:
    with lemonade_server({"Qwen3-4B": lambda _: "a", "Gemma-3-1b": lambda _: "b"},
                         ctx_size=16384) as (url, state):
        assert url.endswith("/api/v1")
        st = anyio.run(probe, EndpointConfig(url=url))
        assert st.up and st.server == "lemonade" and st.swapping == "lemonade"
        assert st.loaded == [] and {m.id for m in st.models} == {"Qwen3-4B", "Gemma-3-1b"}
        assert all(m.quantization == "Q4_K_M" and m.server == "lemonade" for m in st.models)
        state.load("Qwen3-4B")
        st = anyio.run(probe, EndpointConfig(url=url))
        assert st.loaded == ["Qwen3-4B"]
        ctx = {m.id: m.context_size for m in st.models}
        assert ctx["Qwen3-4B"] == 16384 and ctx["Gemma-3-1b"] is None  # known once loaded
    with lemonade_server({"a": lambda _: "a", "b": lambda _: "b"}, max_llm=2) as (url, _):
        st = anyio.run(probe, EndpointConfig(url=url))
        assert st.server == "lemonade" and st.swapping is None  # room for both: no swapping


def _wait(settings: Settings, db: object, ids: list[str], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(service.run_status(settings, db, r).status in FINAL_STATUSES  # type: ignore[arg-type]
               for r in ids):
            return
        time.sleep(0.5)
    raise AssertionError("runs did not end")


def test_runs_of_two_models_take_turns_and_read_ttft_from_stats(tmp_path: Path) -> None:
    bench = get_benchmark("humaneval")
    right = {bench.messages(t)[-1]["content"]: bench.reference(t) for t in bench.tasks()}
    models = {"a": lambda m: right.get(m, "x"), "b": lambda m: right.get(m, "x")}
    with lemonade_server(models, load_s=0.3) as (url, state):
        # four request slots declared, no `swaps` configured: discovery's word decides
        settings = make_settings(tmp_path, url, sandbox="local")
        settings.endpoints[0].concurrency = 4
        db = make_engine(settings.database_url)
        ids = []
        for m in ("a", "b"):
            run = anyio.run(service.queue_run, settings, db,
                            RunRequest(model=m, benchmark="humaneval", limit=6, concurrency=1))
            assert run.params["swapping"] == "lemonade"
            ids.append(run.id)
        _wait(settings, db, ids)
        asked = state.requests
        assert sorted(asked) == ["a"] * 6 + ["b"] * 6
        switches = sum(1 for x, y in itertools.pairwise(asked) if x != y)
        assert switches == 1, asked  # one model's run, then the other's: never alternating
        assert state.loads == 2
        for rid in ids:
            timing = service.results(db, rid, limit=0).metrics["timing"]
            assert timing["ttft_measured"] == timing["requests"] == 6
            assert timing["ttft_sources"] == {LEMONADE_STATS: 6}
            assert 0.04 < timing["mean_ttft_s"] < 1.0


def test_decide_measures_the_switch_on_lemonade(tmp_path: Path) -> None:
    bench = get_benchmark("humaneval")
    right = {bench.messages(t)[-1]["content"]: bench.reference(t) for t in bench.tasks()}
    models = {"right": lambda m: right.get(m, "x"), "wrong": lambda _: "no"}
    with lemonade_server(models, load_s=0.5) as (url, _state):
        settings = make_settings(tmp_path, url, sandbox="local")
        db = make_engine(settings.database_url)
        from benchdock.harnesses.choice.adaptive import decide
        from benchdock.harnesses.choice.adaptive_views import DecideRequest

        req = DecideRequest(models=["right", "wrong"], budget_minutes=20,
                            priorities={"generation": 1}, benchmarks=["humaneval"],
                            tasks_per_benchmark=30, margin=0.1)
        d = anyio.run(decide, settings, db, req, None, None)
        assert d.winner == "right"
        spend = d.benchmarks[0]
        assert spend.switch_s is not None and spend.switch_s > 0.3  # measured: the load
        assert len(q.list_runs(db, 100)) >= 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_with_no_endpoint_configured_the_usual_ports_are_looked_at(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env({"BENCHDOCK_HOME": str(tmp_path)})
    assert not settings.endpoints_configured
    with lemonade_server({"Qwen3-4B": lambda _: "a"}) as (url, _):
        port = int(url.split(":")[2].split("/")[0])
        dead = _free_port()
        monkeypatch.setattr(discovery, "CANDIDATES", (
            (dead, "/v1", "llama-server"), (port, "/api/v1", "Lemonade"), (port, "/v1", "vLLM")))
        discovery.forget()
        statuses = anyio.run(service.list_models, settings, None)
        assert [s.url for s in statuses] == [url]  # one per port: its first answer
        _, note = anyio.run(discovery.endpoints, settings)
        assert note is not None and f"ports {dead}, {port}" in note
        assert f"found lemonade at {url} (1 model(s))" in note
        ep, st, m = anyio.run(service.find_model, settings, "Qwen3-4B", None)
        assert ep.url == url and st.server == "lemonade" and m.id == "Qwen3-4B"
    discovery.forget()
    monkeypatch.setattr(discovery, "CANDIDATES", ((_free_port(), "/v1", "llama-server"),))
    _, note = anyio.run(discovery.endpoints, settings)
    assert note is not None and "nothing answered" in note and "demo model" in note
    discovery.forget()
