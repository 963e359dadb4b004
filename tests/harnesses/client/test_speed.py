"""The speed probe (issue 23): with nothing measured for a model, a plan asks it a few short
requests instead of assuming 20 tokens/s; the figures match what the endpoint did, a load on
the first request is kept apart, and plan_evaluation's estimates say they were probed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest
from fastmcp import Client

from benchdock.harnesses.choice import speeds
from benchdock.harnesses.client.speed import probe_speed
from benchdock.harnesses.config import EndpointConfig
from benchdock.server.app import create_server
from benchdock.store.db import make_engine
from tests.conftest import make_settings
from tests.support.fake_swap import swapping_server
from tests.support.mcp_json import payload

TOKEN_S = 0.02  # 50 tokens/s
FIRST_S = 0.15
LOAD_S = 0.6


def _transport() -> httpx.MockTransport:
    calls = {"n": 0}

    async def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        first = FIRST_S + (LOAD_S if calls["n"] == 1 else 0.0)

        async def body() -> AsyncIterator[bytes]:
            await anyio.sleep(first)
            for i in range(20):
                if i:
                    await anyio.sleep(TOKEN_S)
                event = {"choices": [{"index": 0, "delta": {"content": f"{i},"}}]}
                yield f"data: {json.dumps(event)}\n\n".encode()
            done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    "usage": {"completion_tokens": 20}}
            yield f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode()

        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              content=body())

    return httpx.MockTransport(handler)


def test_the_probe_measures_what_the_endpoint_does() -> None:
    p = anyio.run(lambda: probe_speed(EndpointConfig(url="http://fake/v1"), "m",
                                      transport=_transport()))
    assert p.requests == 3
    assert p.tokens_per_s is not None and 35 < p.tokens_per_s < 55, p  # 50 tokens/s
    assert p.ttft_s is not None and FIRST_S * 0.9 < p.ttft_s < FIRST_S + 0.15, p
    assert p.load_s is not None and LOAD_S * 0.8 < p.load_s < LOAD_S + 0.2, p


async def _plan(settings: object, models: list[str]) -> dict[str, object]:
    async with Client(create_server(settings)) as c:  # type: ignore[arg-type]
        return payload(await c.call_tool("plan_evaluation", {
            "models": models, "budget_minutes": 60, "priorities": {"generation": 1}}))


def test_plan_evaluation_probes_a_model_with_nothing_measured(tmp_path: Path) -> None:
    with swapping_server({"fresh": lambda _: "1, 2, 3, 4, 5, done"}, 0.0) as (url, state):
        settings = make_settings(tmp_path, url, sandbox="local")
        make_engine(settings.database_url)
        plan = anyio.run(_plan, settings, ["fresh"])
        assert len(state.requests) == 3  # the probe: three short requests
        runs = plan["runs"]
        assert runs and all("speed probed here (3 short requests" in r["estimate_basis"]
                            for r in runs), runs
        assert not any("assumed" in r["estimate_basis"] for r in runs)
        assert any("its speed was probed" in n for n in plan["notes"])
        assert "fresh" in speeds.probes(settings.home)
        again = anyio.run(_plan, settings, ["fresh"])
        assert len(state.requests) == 3  # probed once: the next plan reuses it
        assert again["runs"][0]["estimate_basis"] == runs[0]["estimate_basis"]


@pytest.mark.parametrize("model", ["ghost"])
def test_a_model_that_cannot_be_probed_is_said(tmp_path: Path, model: str) -> None:
    with swapping_server({"fresh": lambda _: "x"}, 0.0) as (url, _):
        settings = make_settings(tmp_path, url, sandbox="local")
        db = make_engine(settings.database_url)
        known, notes = anyio.run(speeds.ensure, settings, db, [model])
        assert model not in known and "could not be probed" in notes[0]
