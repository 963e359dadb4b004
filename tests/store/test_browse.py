"""The viewer's queries (store/browse.py) on SQLite and PostgreSQL alike: filters, search
(LIKE/ILIKE over the texts and the evidence JSON cast to text), timings and order, progress
counted per run, outcomes side by side; and the index migration that keeps progress cheap
on a store made before it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from benchdock.store import browse
from benchdock.store.db import make_engine, migrate
from tests.support.pgserver import shared_server
from tests.support.viewer_seed import A_PASSES, NEEDLE, seed_viewer_store


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    if request.param == "postgres":
        return make_engine(shared_server().url())
    return make_engine(f"sqlite:///{tmp_path / 'store.db'}")


def tasks(lines: list[browse.SampleLine]) -> list[str]:
    return [x.task_id for x in lines]


def test_filters_search_and_order(db: Engine) -> None:
    s = seed_viewer_store(db)
    fails, n = browse.samples_page(db, s.a, browse.SampleFilter(verdict="fail"))
    assert n == 4 and tasks(fails) == [f"HumanEval/{i}" for i in range(10) if i not in A_PASSES]
    for needle in (NEEDLE, NEEDLE.lower(), "helper_QUUX"):  # case-insensitive on both
        found, _ = browse.samples_page(db, s.b, browse.SampleFilter(text=needle))
        assert tasks(found) == ["HumanEval/4"], needle
    evidence, _ = browse.samples_page(db, s.swe, browse.SampleFilter(text="test_curry_kwargs"))
    assert tasks(evidence) == ["toolz__toolz-1"]  # inside the trajectory (JSON)
    for wildcard in ("%", "solv_", "\\"):  # literal: "solv_" would match "solve" as a wildcard
        assert browse.samples_page(db, s.a, browse.SampleFilter(text=wildcard))[1] == 0
    by_prompt, _ = browse.samples_page(db, s.a, browse.SampleFilter(
        text="no answer says this", text_tasks=["HumanEval/9"]))
    assert tasks(by_prompt) == ["HumanEval/9"]
    slow, n = browse.samples_page(db, s.a, browse.SampleFilter(
        min_latency=6, max_tokens=130, sort="-latency"))
    assert (n, tasks(slow)) == (3, ["HumanEval/8", "HumanEval/7", "HumanEval/6"])
    page, n = browse.samples_page(db, s.a, browse.SampleFilter(sort="tokens"), offset=8, limit=5)
    assert (n, tasks(page)) == (10, ["HumanEval/8", "HumanEval/9"])
    part, _ = browse.samples_page(db, s.aider, browse.SampleFilter(task_ids=["go/ex1"]))
    assert tasks(part) == ["go/ex1"]
    pending, n = browse.samples_page(db, s.queued, browse.SampleFilter(verdict="pending"))
    assert n == 5 and all(x.verdict == browse.PENDING for x in pending)


def test_runs_progress_and_side_by_side(db: Engine) -> None:
    s = seed_viewer_store(db)
    lines, total = browse.runs_page(db, limit=2)
    assert total == 5 and len(lines) == 2
    done = {line.run.id: line.done for line in browse.runs_page(db)[0]}
    assert done == {s.a: 10, s.b: 10, s.swe: 2, s.aider: 5, s.queued: 0}
    assert browse.verdict_counts(db, s.a) == {"pass": 6, "fail": 4}
    assert browse.runs_page(db, model="m-b", status="queued")[1] == 1
    assert browse.run_facets(db) == (["m-a", "m-b"], ["aider-polyglot", "humaneval-plus",
                                                      "mbpp-plus", "swe-local"])
    assert browse.models_on(db, "humaneval-plus") == ["m-a", "m-b"]
    assert browse.run_counts(db, ["m-a", "m-b"])["humaneval-plus"] == {"m-a": 1, "m-b": 1}
    out = browse.outcomes(db, [s.a, s.b])
    assert out[s.a]["HumanEval/3"] == ["pass"] and out[s.b]["HumanEval/3"] == ["fail"]


def test_progress_index_is_added_to_an_older_store(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with db.begin() as conn:  # the store as the release before 0007 made it
        conn.execute(text("DROP INDEX ix_sample_run_verdict"))
        conn.execute(text("DELETE FROM schemamigration WHERE name LIKE '0007%'"))
    assert migrate(db) == ["0007_sample_run_verdict_index"]
    assert "ix_sample_run_verdict" in {i["name"] for i in inspect(db).get_indexes("sample")}
    with db.connect() as conn:
        plan = " ".join(str(r) for r in conn.execute(text(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM sample WHERE run_id = 'x' "
            "AND verdict IS NOT NULL")))
    assert "COVERING INDEX ix_sample_run_verdict" in plan
