"""decide as a background job (issue 23): one call starts it and returns at once; the worker
queues the batches until the decision is made, with no further call; a second call with the
same arguments reads the result and starts nothing. Also each model's own rate beside the
intervals, and "not informative" when every model is at the floor."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastmcp import Client

from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.server.app import create_server
from benchdock.store import jobs
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from tests.conftest import make_settings
from tests.support.fake_swap import swapping_server
from tests.support.mcp_json import payload


async def _decide(settings: Any, args: dict[str, Any]) -> dict[str, Any]:
    async with Client(create_server(settings)) as c:
        return payload(await c.call_tool("decide", args))


def _wait_job(db: Any, did: str, timeout_s: float = 240) -> Any:
    """Follow the job in the store, never through the tool."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = jobs.latest(db, "decide", did)
        if job is not None and job.status in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"decision {did} did not finish in {timeout_s} s")


def test_decide_finishes_in_the_background_with_no_further_call(tmp_path: Path) -> None:
    bench = get_benchmark("humaneval")
    right = {bench.messages(t)[-1]["content"]: bench.reference(t) for t in bench.tasks()}
    models = {"right": lambda m: right.get(m, "OK"), "wrong": lambda _: "I cannot write this."}
    with swapping_server(models, 0.05) as (url, _):
        settings = make_settings(tmp_path, url, sandbox="local")
        db = make_engine(settings.database_url)
        args = {"models": ["right", "wrong"], "budget_minutes": 20,
                "priorities": {"generation": 1}, "benchmarks": ["humaneval"],
                "tasks_per_benchmark": 40, "margin": 0.1}
        t0 = time.monotonic()
        first = anyio.run(_decide, settings, args)
        assert time.monotonic() - t0 < 20  # it answers at once (endpoint probe included)
        assert first["status"] in ("queued", "running"), first
        did = first["decision_id"]
        job = _wait_job(db, did)
        assert job.status == "succeeded", (job.error, job.log[-2000:])
        runs_before = len(q.list_runs(db, 200))
        final = anyio.run(_decide, settings, args)
        assert final["decision_id"] == did and final["status"] == "finished"
        assert final["winner"] == "right" and final["choice"] == "right"
        dim = final["dimensions"][0]
        assert dim["status"] == "separated"
        rates = {r["model"]: r for r in dim["rates"]}
        assert rates["right"]["rate"] == 1.0 and rates["wrong"]["rate"] == 0.0
        assert rates["right"]["n"] == dim["tasks"] and len(rates["right"]["ci95"]) == 2
        assert len(q.list_runs(db, 200)) == runs_before  # reading it started nothing


def test_all_models_at_the_floor_is_not_informative(tmp_path: Path) -> None:
    models = {"a": lambda _: "I don't know.", "b": lambda _: "I don't know."}
    with swapping_server(models, 0.0) as (url, _):
        settings = make_settings(tmp_path, url, sandbox="local")
        db = make_engine(settings.database_url)
        args = {"models": ["a", "b"], "budget_minutes": 20, "priorities": {"generation": 1},
                "benchmarks": ["humaneval"], "tasks_per_benchmark": 30, "batch": 10}
        did = anyio.run(_decide, settings, args)["decision_id"]
        assert _wait_job(db, did).status == "succeeded"
        final = anyio.run(_decide, settings, args)
        dim = final["dimensions"][0]
        assert dim["status"] == "not informative", dim
        assert "floor" in dim["note"] and "humaneval" in dim["note"]
        assert all(r["rate"] == 0.0 for r in dim["rates"])
        assert final.get("winner") is None and "not informative" in final["verdict"], final["verdict"]


@pytest.mark.parametrize("cancel_after_s", [3.0])
def test_a_cancelled_decision_cancels_its_runs(tmp_path: Path, cancel_after_s: float) -> None:
    def slow(_: str) -> str:
        time.sleep(0.5)
        return "no"

    with swapping_server({"a": slow, "b": slow}, 0.0) as (url, _):
        settings = make_settings(tmp_path, url, sandbox="local")
        db = make_engine(settings.database_url)
        args = {"models": ["a", "b"], "budget_minutes": 30, "benchmarks": ["humaneval"],
                "tasks_per_benchmark": 40, "batch": 20}
        did = anyio.run(_decide, settings, args)["decision_id"]
        time.sleep(cancel_after_s)
        anyio.run(_decide, settings, {**args, "cancel": True})
        job = _wait_job(db, did, 60)
        assert job.status == "cancelled"
        time.sleep(2)
        assert all(r.status in ("cancelled", "succeeded") for r in q.list_runs(db, 50))


def test_five_models_are_screened_then_the_four_leaders_decided(tmp_path: Path) -> None:
    bench = get_benchmark("humaneval")
    right = {bench.messages(t)[-1]["content"]: bench.reference(t) for t in bench.tasks()}
    prompts = sorted(right)
    half = {p: right[p] for p in prompts[::2]}  # right on every other task

    def no(_: str) -> str:
        return "I cannot write this."

    models = {"w1": no, "right": lambda m: right.get(m, "OK"), "w2": no,
              "half": lambda m: half.get(m, "no"), "w3": no}
    with swapping_server(models, 0.0) as (url, _):
        settings = make_settings(tmp_path, url, sandbox="local")
        db = make_engine(settings.database_url)
        args = {"models": list(models), "budget_minutes": 30, "priorities": {"generation": 1},
                "benchmarks": ["humaneval"], "tasks_per_benchmark": 50, "margin": 0.1}
        did = anyio.run(_decide, settings, args)["decision_id"]
        job = _wait_job(db, did, 400)
        assert job.status == "succeeded", (job.error, job.log[-2000:])
        final = anyio.run(_decide, settings, args)
        scr = final["screening"]
        assert scr["models"] == 5 and len(scr["leaders"]) == 4
        assert scr["rates"]["right"] == 1.0 and scr["leaders"][0] == "right"
        assert "half" in scr["leaders"] and "w3" not in scr["leaders"]  # ties: listed order
        assert "first 10 tasks" in scr["rule"]
        assert final["winner"] == "right"
        dim = final["dimensions"][0]
        assert {r["model"] for r in dim["rates"]} == set(scr["leaders"])
        assert dim["population"] == 40  # the 50 of the subset after the 10 screened
