"""decide end to end against two real, different models: SmolLM2-135M (the test endpoint)
and Gemma 3 270M Q4_K_M (BENCHDOCK_TEST_ENDPOINT2, which `.ci/run` starts with `benchdock
demo-server --model gemma3-270m`; without it the test starts one here), on HumanEval in the
Docker sandbox. Small on purpose (8 tasks, 128 tokens): CI shares two cores. Then the same
decision is replayed from the stored runs, as the simulation does."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from benchdock.harnesses.choice.adaptive import decide
from benchdock.harnesses.choice.adaptive_sim import replay, stored_population
from benchdock.harnesses.choice.adaptive_views import DecideRequest
from benchdock.harnesses.client.demo import DEMO_ALIAS, GEMMA_ALIAS
from benchdock.harnesses.config import EndpointConfig
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from tests.conftest import _required, make_settings
from tests.harnesses.choice.test_adaptive_swap import final_run


@pytest.fixture(scope="module")
def gemma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("BENCHDOCK_TEST_ENDPOINT2")
    if url:
        yield url
        return
    try:
        from benchdock.harnesses.client.demo import start_demo_server

        server = start_demo_server(log=tmp_path_factory.mktemp("gemma") / "server.log",
                                   model_name=GEMMA_ALIAS)
    except Exception as exc:
        if _required("BENCHDOCK_REQUIRE_ENDPOINT"):
            pytest.fail(f"BENCHDOCK_REQUIRE_ENDPOINT=1 but no Gemma endpoint: {exc}")
        pytest.skip(f"no Gemma endpoint: {exc}")
    yield server.url
    server.stop()


def test_decide_between_smollm2_and_gemma(tmp_path: Path, endpoint_url: str, gemma_url: str,
                                          docker_image: str) -> None:
    settings = make_settings(tmp_path, endpoint_url)
    settings.endpoints.append(EndpointConfig(url=gemma_url))
    db = make_engine(settings.database_url)
    req = DecideRequest(models=[DEMO_ALIAS, GEMMA_ALIAS], budget_minutes=30,
                        benchmarks=["humaneval"], tasks_per_benchmark=8, batch=4,
                        max_tokens=128, margin=0.3)
    messages: list[str] = []

    async def progress(done: int, total: int, message: str) -> None:
        messages.append(message)

    first = anyio.run(decide, settings, db, req, progress, 2.0)  # as the tool's first call
    assert first.status == "running" and first.benchmarks[0].runs
    d = anyio.run(decide, settings, db, req, progress, None)  # continues the same decision
    assert d.decision_id == first.decision_id and d.status == "finished"
    dim = d.dimensions[0]
    assert dim.dimension == "generation" and dim.population == 8
    assert dim.status in ("separated", "equivalent", "undecided at budget")
    pair = dim.intervals[0]
    assert -1 <= pair.lower <= pair.upper <= 1 and 1 <= pair.tasks <= 8
    spend = d.benchmarks[0]
    assert spend.batch == 4 and spend.switch_s is None  # llama-cpp-python does not swap
    assert 0 < d.minutes <= d.full_minutes + 1e-6
    assert any("generation: smollm2-135m-gemma3-270m in [" in m for m in messages)
    runs = [final_run(settings, db, r) for r in spend.runs]
    # a decision mid-batch cancels the rest of the last batch
    assert all(r is not None and (r.status == "succeeded" or (
        r.status == "cancelled" and r.id in spend.runs[-2:]
        and "decided after" in (r.params or {}).get("cancel_reason", ""))) for r in runs)
    a_runs = [r.id for r in runs if r is not None and r.model == DEMO_ALIAS]
    b_runs = [r.id for r in runs if r is not None and r.model == GEMMA_ALIAS]
    for ra, rb in zip(a_runs, b_runs, strict=True):  # the same tasks, batch by batch
        run_a, run_b = q.get_run(db, ra), q.get_run(db, rb)
        assert run_a is not None and run_b is not None and run_a.task_ids == run_b.task_ids
    # the real pair replayed from its stored runs, in 200 random orders
    diffs = stored_population(db, a_runs, b_runs, "generation")
    assert len(diffs) >= pair.tasks  # a cancelled run may score a task past the decision
    sim = replay(diffs, alpha=0.05, margin=0.3, batch=4, replays=200, seed=1, mid_batch=True)
    assert sum(sim.verdicts.values()) == 200 and sim.mean_tasks <= len(diffs)
