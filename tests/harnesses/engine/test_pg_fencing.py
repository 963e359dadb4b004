"""Writes fenced by the claim, on SQLite and PostgreSQL: a worker whose lease ran out and whose
run another worker took over (it stalled, or was cut off from the database) cannot score,
answer, beat the heartbeat of or finish that run any more; a cancel asked for before a run's
end wins over it, and one asked for after leaves the ended run alone."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from sqlalchemy.engine import Engine

from benchdock.harnesses.config import EndpointConfig, Settings
from benchdock.harnesses.contract import registry
from benchdock.harnesses.engine.executor import RunExecutor
from benchdock.store import queries as q
from benchdock.store import queue
from benchdock.store.db import make_engine
from benchdock.store.tables import Run
from tests.harnesses.engine.test_pg_workers import FIXTURE
from tests.support.fake_endpoint import CountingEndpoint
from tests.support.pgserver import shared_server


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (f"sqlite:///{tmp_path / 's.db'}" if request.param == "sqlite"
           else shared_server().url())
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def count_plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The tests' `count` benchmark, registered in this process."""
    monkeypatch.syspath_prepend(str(FIXTURE))
    from benchdock_queueplug import Count  # type: ignore[import-not-found]

    monkeypatch.setattr(registry, "plugins", lambda: (("count", Count, "queueplug"),))
    yield
    sys.modules.pop("benchdock_queueplug", None)


def _run(run_id: str, endpoint: str = "http://a/v1", tasks: int = 2, concurrency: int = 1) -> Run:
    return Run(id=run_id, benchmark="count", benchmark_version="count 0.1.0",
               dataset_hash=f"count-{tasks}", model="m", endpoint_url=endpoint,
               task_ids=[f"count/{i}" for i in range(tasks)], total=tasks,
               concurrency=concurrency, params={"temperature": 0.0, "max_tokens": 16})


def _two_workers(db: Engine, url: str = "http://a/v1") -> list[str]:
    queue.register_worker(db, "old", "/old", [EndpointConfig(url=url)], 1, 0.6)
    queue.register_worker(db, "new", "/new", [EndpointConfig(url=url)], 1, 30.0)
    return [url]


def test_a_worker_that_lost_its_claim_writes_nothing_into_the_run(db: Engine) -> None:
    urls = _two_workers(db)
    q.add_run(db, _run("r1"))
    assert queue.claim(db, "old", urls, 0.6) is not None
    q.ensure_samples(db, "r1", ["count/0", "count/1"], 1)
    a, b = q.all_samples(db, "r1")
    assert q.save_generation(db, a.id or 0, "old", completion="tok0")
    assert q.save_verdict(db, a.id or 0, "old", verdict="pass")  # its own, while it held it
    time.sleep(0.9)  # the old holder stalls past its lease; the new one takes the run over
    taken = queue.claim(db, "new", urls, 30.0)
    assert taken is not None and taken.worker_id == "new"
    # the old holder carries on, unaware: every write is refused
    assert not q.save_generation(db, b.id or 0, "old", completion="stale")
    assert not q.save_verdict(db, b.id or 0, "old", verdict="fail")
    q.heartbeat(db, "r1", "old", sandbox_used="stale")
    assert q.finish_run(db, "r1", "failed", error="stale", holder="old") is None
    run = q.get_run(db, "r1")
    assert run is not None and run.status == "running" and run.worker_id == "new"
    assert run.sandbox_used is None and run.error is None and run.finished_at is None
    kept = q.all_samples(db, "r1")[1]
    assert kept.completion is None and kept.verdict is None
    # the new holder's writes go through, and a run ends once
    assert q.save_verdict(db, b.id or 0, "new", verdict="pass")
    assert not q.save_verdict(db, a.id or 0, "new", verdict="fail")  # scored already
    assert q.finish_run(db, "r1", "succeeded", holder="new") == "succeeded"
    assert q.finish_run(db, "r1", "failed", holder="new") is None
    assert q.get_run(db, "r1").status == "succeeded"  # type: ignore[union-attr]


def test_a_cancel_before_the_end_wins_and_one_after_changes_nothing(db: Engine) -> None:
    queue.register_worker(db, "w", "/w", [EndpointConfig(url="http://a/v1", concurrency=4)],
                          4, 30.0)
    for rid in ("r1", "r2", "r3", "r4"):
        q.add_run(db, _run(rid))
        assert queue.claim(db, "w", ["http://a/v1"], 30.0) is not None
    q.request_cancel(db, "r1", reason="decided")
    # the worker finishes r1's last sample before it sees the cancel: r1 still ends cancelled
    assert q.finish_run(db, "r1", "succeeded", holder="w") == "cancelled"
    assert q.finish_run(db, "r2", "succeeded", holder="w") == "succeeded"
    late = q.request_cancel(db, "r2")  # after the end: the run stays as it ended
    assert late is not None and late.status == "succeeded" and not late.cancel_requested
    # a worker stopping gives its runs back: a flagged one ends cancelled (queued, no worker
    # would ever claim it), the other is queued again
    q.request_cancel(db, "r3")
    queue.give_back(db, "w", ["r3", "r4"])
    r3, r4 = q.get_run(db, "r3"), q.get_run(db, "r4")
    assert r3 is not None and r3.status == "cancelled" and r3.finished_at is not None
    assert r4 is not None and r4.status == "queued" and not r4.cancel_requested


def test_a_flagged_run_whose_worker_died_is_claimed_and_ends_cancelled(
        db: Engine, tmp_path: Path, count_plugin: None) -> None:
    urls = _two_workers(db)
    q.add_run(db, _run("r1"))
    assert queue.claim(db, "old", urls, 0.6) is not None
    q.request_cancel(db, "r1")  # ... and "old" dies before it sees it
    time.sleep(0.9)
    run = queue.claim(db, "new", urls, 30.0)
    assert run is not None and run.cancel_requested
    settings = Settings(endpoints=[EndpointConfig(url="http://a/v1")], home=tmp_path,
                        database_url="sqlite://", sandbox="local", variables={})
    assert anyio.run(RunExecutor(settings, db, run).execute) == "cancelled"
    assert q.get_run(db, "r1").status == "cancelled"  # type: ignore[union-attr]


def test_an_executor_that_lost_its_run_stops_and_leaves_it_to_the_new_holder(
        db: Engine, tmp_path: Path, count_plugin: None) -> None:
    """A real run of `count` executing under a claim whose lease runs out (its worker stopped
    renewing, as a stalled or cut-off worker does): once another worker takes it over, the
    executor writes no verdict, does not finish the run, and stops as `lost`."""
    ep = CountingEndpoint(0.1)
    log = tmp_path / "scored.log"
    settings = Settings(endpoints=[EndpointConfig(url=ep.url)], home=tmp_path,
                        database_url="sqlite://", sandbox="local",
                        variables={"BENCHDOCK_COUNT_TASKS": "40",
                                   "BENCHDOCK_COUNT_LOG": str(log)})
    try:
        urls = _two_workers(db, ep.url)
        q.add_run(db, _run("r1", ep.url, tasks=40))
        run = queue.claim(db, "old", urls, 0.6)
        assert run is not None
        lapsed = time.monotonic() + 0.7
        ex = RunExecutor(settings, db, run)
        outcome: list[str] = []
        t = threading.Thread(target=lambda: outcome.append(anyio.run(ex.execute)))
        t.start()
        deadline = time.monotonic() + 30
        while q.count_scored(db, "r1") < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        # nobody renews "old"'s lease: it runs out mid-run, and "new" takes the run over
        time.sleep(max(0.0, lapsed - time.monotonic()))
        taken = queue.claim(db, "new", urls, 30.0)
        assert taken is not None and taken.worker_id == "new"
        time.sleep(0.2)  # a write that began before the takeover has committed by now
        scored_at_takeover = q.count_scored(db, "r1")
        t.join(30)
        assert outcome == ["lost"]
        assert 0 < scored_at_takeover < 40, "the takeover did not happen mid-run"
        assert q.count_scored(db, "r1") == scored_at_takeover  # nothing scored after it
        after = q.get_run(db, "r1")
        assert after is not None and after.status == "running" and after.worker_id == "new"
        assert after.finished_at is None and after.metrics is None
    finally:
        ep.close()
