"""Reliability in `timing` (issue 23): a flaky endpoint's failed requests are retried, never
charged to the model, and counted with the time they cost; the comparison shows them per
model, and recommend_model breaks ties by a stated rule."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from benchdock.harnesses.choice.compare import compare
from benchdock.harnesses.choice.recommend import recommend
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.service import operations as service
from benchdock.harnesses.service.views import RunRequest
from benchdock.store.db import make_engine
from benchdock.store.tables import FINAL_STATUSES, Run
from tests.conftest import make_settings
from tests.support.fake_models import FakeModel, fake_models
from tests.support.seed import passes, seed_run


def test_a_flaky_endpoints_failures_are_retried_counted_and_not_charged(tmp_path: Path) -> None:
    bench = get_benchmark("humaneval")
    right = {bench.messages(t)[-1]["content"]: bench.reference(t) for t in bench.tasks()}
    models = {"flaky": FakeModel(lambda m: right.get(m, "OK"), fail_every=3)}
    with fake_models(models) as (url, state):
        settings = make_settings(tmp_path, url, sandbox="local")
        db = make_engine(settings.database_url)
        run = anyio.run(service.queue_run, settings, db,
                        RunRequest(model="flaky", benchmark="humaneval", limit=6))
        for _ in range(240):
            st = service.run_status(settings, db, run.id)
            if st.status in FINAL_STATUSES:
                break
            time.sleep(0.5)
        assert st.status == "succeeded", st.error
        res = service.results(db, run.id, limit=0)
        timing = res.metrics["timing"]
        assert state.failures["flaky"] >= 2
        assert timing["failed_requests"] == state.failures["flaky"]
        assert timing["retried_requests"] == state.failures["flaky"]  # each retried once
        assert timing["retry_lost_s"] >= 0.9 * state.failures["flaky"]  # 1 s backoff each
        assert res.metrics["verdicts"] == {"pass": 6}  # the model is not charged for them
        row = compare(db).models[0]
        assert row.speed.failed_requests == state.failures["flaky"]
        assert row.speed.retry_lost_s is not None and row.speed.retry_lost_s > 0


def _failed(db: Engine, run_id: str, n: int) -> None:
    with Session(db) as s:
        run = s.get(Run, run_id)
        assert run is not None
        run.metrics = {"timing": {"requests": 20, "failed_requests": n, "retry_lost_s": 2.0 * n}}
        s.add(run)
        s.commit()


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    return make_engine(f"sqlite:///{tmp_path / 's.db'}")


def test_ties_are_broken_by_the_stated_rule(db: Engine) -> None:
    same = passes("HumanEval/", 20, 15)
    seed_run(db, "slow", "humaneval", same, tokens_per_s=20)
    seed_run(db, "fast", "humaneval", same, tokens_per_s=60)
    rec = recommend(db, {"generation": 1})
    assert [r.model for r in rec.ranking] == ["fast", "slow"]
    assert "more tokens/s" in rec.tie_rule and "fewer failed requests" in rec.tie_rule
    assert "tie on score" in rec.summary and "fast is first by the tie rule" in rec.summary


def test_equal_speed_ties_go_to_fewer_failed_requests(db: Engine) -> None:
    same = passes("HumanEval/", 20, 15)
    a = seed_run(db, "a-flaky", "humaneval", same, tokens_per_s=40)
    b = seed_run(db, "b-steady", "humaneval", same, tokens_per_s=40)
    _failed(db, a, 7)
    _failed(db, b, 0)
    rec = recommend(db, {"generation": 1})
    assert [r.model for r in rec.ranking] == ["b-steady", "a-flaky"]
    assert "7 failed requests" in rec.summary
