"""decide on a fake model-swapping server (one model loaded at a time, a delay per switch):
swap detection, the measured switch cost, batch sizing, one switch per batch, the switch in
plan_evaluation's estimates, and the whole adaptive loop through the real worker and Docker
sandbox with models whose answers are known (one always right, one always wrong)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastmcp import Client
from sqlalchemy.engine import Engine

from benchdock.harnesses.choice.adaptive import Decider, decide
from benchdock.harnesses.choice.adaptive_swap import (
    batch_size,
    measure_switch,
    model_switch_s,
)
from benchdock.harnesses.choice.adaptive_views import DecideRequest
from benchdock.harnesses.choice.plan import plan
from benchdock.harnesses.client.endpoints import probe
from benchdock.harnesses.config import EndpointConfig, Settings
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.service import operations as service
from benchdock.harnesses.service.views import RunRequest
from benchdock.server.app import create_server
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from benchdock.store.tables import FINAL_STATUSES, Run
from tests.conftest import make_settings
from tests.support.fake_swap import swapping_server
from tests.support.mcp_json import payload

SWITCH_S = 0.6
DECISION_BUDGET = 4_000  # characters of a one-benchmark decision's JSON (measured: see below)


def test_swapping_server_detected_and_its_switch_measured() -> None:
    with swapping_server({"a": lambda _: "a", "b": lambda _: "b"}, SWITCH_S) as (url, state):
        st = anyio.run(probe, EndpointConfig(url=url))
        assert st.up and st.swapping == "llama-swap" and st.loaded == []
        costs = measure_switch(EndpointConfig(url=url), ["a", "b"])
        assert set(costs) == {"a", "b"}
        for s in costs.values():  # TTFT after a switch minus warm TTFT ~ the delay
            assert SWITCH_S * 0.8 < s < SWITCH_S + 0.5, costs
        st = anyio.run(probe, EndpointConfig(url=url))
        assert st.loaded == ["b"]
        assert state.switches == 2


def test_batches_keep_switches_under_a_tenth_of_the_time() -> None:
    # 30 s per switch, 2 s per task and model, two models: one switch per batch (snake order)
    b = batch_size(30.0, 2.0, 2)
    assert b == 68
    assert 30.0 / (30.0 + 2 * b * 2.0) <= 0.1 < 30.0 / (30.0 + 2 * (b - 1) * 2.0)
    assert batch_size(0.0, 2.0, 2) == 8  # no swapping: the default
    assert batch_size(30.0, 2.0, 3) > b  # three models: two switches per batch


def test_plan_evaluation_counts_the_switch(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    args = (db, ["a", "b"], 600.0, {"generation": 1.0}, ["a", "b"])
    without = plan(*args)
    with_switch = plan(*args, {"a": 90.0, "b": 30.0})
    assert without.runs and len(without.runs) == len(with_switch.runs)
    for r0, r1 in zip(without.runs, with_switch.runs, strict=True):
        load = {"a": 1.5, "b": 0.5}[r1.model]
        assert r1.estimate_minutes == pytest.approx(r0.estimate_minutes + load, abs=0.06)
        assert "to load the model" in r1.estimate_basis


def test_cancel_records_its_reason(tmp_path: Path) -> None:
    with swapping_server({"slow": lambda _: time.sleep(5) or "x"}, 0.0) as (url, _):
        settings = make_settings(tmp_path, url, sandbox="local")
        db = make_engine(settings.database_url)
        run = anyio.run(service.queue_run, settings, db,
                        RunRequest(model="slow", benchmark="humaneval", limit=3))
        service.cancel_run(db, run.id, "decided: a is better")
        for _ in range(120):
            st = service.run_status(settings, db, run.id)
            if st.status in FINAL_STATUSES:
                break
            time.sleep(0.5)
        assert st.status == "cancelled"
        assert (st.params or {}).get("cancel_reason") == "decided: a is better"


def test_decide_separates_a_right_model_from_a_wrong_one_on_a_swapping_server(
        tmp_path: Path, docker_image: str) -> None:
    bench = get_benchmark("humaneval")
    right = {bench.messages(t)[-1]["content"]: bench.reference(t) for t in bench.tasks()}
    models = {"right": lambda m: right.get(m, "OK"), "wrong": lambda _: "I cannot write this."}
    with swapping_server(models, SWITCH_S) as (url, state):
        settings = make_settings(tmp_path, url)
        db = make_engine(settings.database_url)
        req = DecideRequest(models=["right", "wrong"], budget_minutes=20,
                            priorities={"generation": 1}, benchmarks=["humaneval"],
                            tasks_per_benchmark=40, margin=0.1)
        seen: list[str] = []

        async def progress(done: int, total: int, message: str) -> None:
            seen.append(message)

        d = anyio.run(decide, settings, db, req, progress, None)
        assert d.status == "finished" and d.winner == "right", d.verdict
        dim = d.dimensions[0]
        assert dim.status == "separated" and dim.winner == "right"
        assert dim.intervals[0].lower > 0 and dim.tasks < 40
        spend = d.benchmarks[0]
        assert spend.status == "decided" and spend.switch_s is not None
        assert spend.switch_s > SWITCH_S * 0.8
        assert 0 < d.minutes < d.full_minutes and d.time_ratio is not None
        assert model_switch_s(settings.home).keys() == {"right", "wrong"}
        assert any("generation: right-wrong in [" in m for m in seen)
        size = len(d.model_dump_json())  # what the agent reads (test_tool_output_sizes' rule)
        assert size < DECISION_BUDGET, size
        # ordinary runs, same tasks for both models, batch by batch; a run of the last batch
        # may have been cancelled because the decision came before the batch ended
        runs = [final_run(settings, db, r) for r in spend.runs]
        assert all(r is not None and (r.status == "succeeded" or (
            r.status == "cancelled" and r.id in runs_of_last(spend.runs)
            and "decided after" in (r.params or {}).get("cancel_reason", ""))) for r in runs)
        by_batch = [runs[i:i + 2] for i in range(0, len(runs), 2)]
        for pair in by_batch:
            assert pair[0] and pair[1] and pair[0].task_ids == pair[1].task_ids
        # measuring made 2 switches; after that, one per batch (+1: the first batch starts
        # on the model the measurement left loaded; +1: the speed probe of the two models,
        # measured nothing here before, ran first)
        assert state.switches <= 2 + spend.batches + 1 + 1
        # continuing (same arguments, here through the MCP tool) reuses the runs: no new
        # run, the same answer
        before = len(q.list_runs(db, 100))
        again = anyio.run(_call_tool, settings, {
            "models": ["right", "wrong"], "budget_minutes": 20,
            "priorities": {"generation": 1}, "benchmarks": ["humaneval"],
            "tasks_per_benchmark": 40, "margin": 0.1, "wait_s": 5})
        assert again["decision_id"] == d.decision_id and again["winner"] == "right"
        assert again["status"] == "finished"
        assert len(q.list_runs(db, 100)) == before


def final_run(settings: Settings, db: Engine, run_id: str) -> Run | None:
    """The run once it has ended (a run cancelled by a decision stops within a second)."""
    for _ in range(120):
        if service.run_status(settings, db, run_id).status in FINAL_STATUSES:
            break
        time.sleep(0.5)
    return q.get_run(db, run_id)


def runs_of_last(runs: list[str]) -> list[str]:
    return runs[-2:]  # two models: the last batch's two runs


async def _call_tool(settings: Settings, args: dict[str, Any]) -> dict[str, Any]:
    async with Client(create_server(settings)) as c:
        res = await c.call_tool("decide", args)
        assert payload(res)
        return payload(res)


def test_a_batch_over_its_budget_is_cancelled_with_the_reason_and_resumed_later(
        tmp_path: Path, docker_image: str) -> None:
    def slow(_: str) -> str:
        time.sleep(1.0)
        return "I cannot write this."

    with swapping_server({"slow": slow, "wrong": lambda _: "no"}, 0.0) as (url, _):
        settings = make_settings(tmp_path, url)
        db = make_engine(settings.database_url)
        req = DecideRequest(models=["slow", "wrong"], budget_minutes=0.02, batch=6,
                            benchmarks=["humaneval"], tasks_per_benchmark=12, margin=0.1)

        async def first_batch() -> tuple[str, Decider]:
            d = Decider(settings, db, req, None)
            await d.setup()
            t = d.tracks[0]
            batch = await d._queue(t, 0, 6)  # queued whatever the estimate says
            return await d._wait(t, batch, None), d

        outcome, d = anyio.run(first_batch)
        assert outcome == "cancelled"
        t = d.tracks[0]
        assert t.status == "budget spent" and t.cancelled
        for run_id, reason in t.cancelled.items():
            st = service.run_status(settings, db, run_id)
            assert st.status == "cancelled" and st.params["cancel_reason"] == reason
            assert "share" in reason
        # the same decision with a larger budget resumes the cancelled runs
        more = req.model_copy(update={"budget_minutes": 20})
        done = anyio.run(decide, settings, db, more, None, None)
        assert done.decision_id == d.did and done.status == "finished"
        assert set(done.benchmarks[0].runs) >= set(t.cancelled)
        for run_id in t.cancelled:
            assert service.run_status(settings, db, run_id).status == "succeeded"
