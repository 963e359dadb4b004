"""The store and its queue on both databases: SQLite (a file) and a real PostgreSQL 15 server
(tests/support/pgserver.py). Migrations, exclusive claims, leases and their takeover, endpoint slots
and affinity, LISTEN/NOTIFY, and several clients writing at once."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from benchdock.harnesses.config import EndpointConfig
from benchdock.store import queries as q
from benchdock.store import queue
from benchdock.store.db import MIGRATIONS, is_postgres, make_engine, migrate
from benchdock.store.tables import Run
from tests.support.mcp_json import payload
from tests.support.pgserver import shared_server


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 's.db'}"
    return shared_server().url()


@pytest.fixture
def db(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _run(run_id: str, endpoint: str = "http://a/v1", model: str = "m", concurrency: int = 1) -> Run:
    return Run(id=run_id, benchmark="humaneval", benchmark_version="v", dataset_hash="h",
               model=model, endpoint_url=endpoint, task_ids=["a", "b"], total=2,
               concurrency=concurrency)


def _declare(db: Engine, wid: str, *eps: EndpointConfig, lease_s: float = 30.0) -> list[str]:
    queue.register_worker(db, wid, "/home", eps, 4, lease_s)
    return [e.url for e in eps]


def test_migrations_run_in_order_once_and_upgrade_an_older_store(db: Engine) -> None:
    assert migrate(db) == []
    names = [n for n, _ in MIGRATIONS]
    with db.connect() as conn:
        recorded = [r[0] for r in conn.execute(text("SELECT name FROM schemamigration"))]
    assert sorted(recorded) == names == sorted(names)
    with db.begin() as conn:  # the store as the release before 0006 made it
        for column in ("worker_id", "lease_until", "slots"):
            conn.execute(text(f"ALTER TABLE run DROP COLUMN {column}"))
        conn.execute(text("DROP TABLE worker"))
        conn.execute(text("DROP TABLE endpoint_slots"))
        conn.execute(text("DELETE FROM schemamigration WHERE name LIKE '0006%'"))
    assert migrate(db) == ["0006_workers_and_leases"]
    insp = inspect(db)
    assert {"worker_id", "lease_until", "slots"} <= {c["name"] for c in insp.get_columns("run")}
    assert {"worker", "endpoint_slots"} <= set(insp.get_table_names())
    assert migrate(db) == []


def test_concurrent_first_migrations_apply_each_once() -> None:
    """Workers starting together on an empty PostgreSQL store: one migrates, the others find
    it done (SQLite: one machine, where the worker lock serialises start-up)."""
    url = shared_server().url()
    errors: list[BaseException] = []

    def start() -> None:
        try:
            make_engine(url).dispose()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with make_engine(url).connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM schemamigration")).scalar_one()
    assert n == len(MIGRATIONS)


def test_samples_are_created_once_and_scored_once(db: Engine) -> None:
    q.add_run(db, _run("r1"))
    assert q.ensure_samples(db, "r1", ["a", "b"], 2) == 4
    assert q.ensure_samples(db, "r1", ["a", "b"], 2) == 4
    rows = q.all_samples(db, "r1")
    assert len(rows) == 4
    q.save_verdict(db, rows[0].id or 0, verdict="pass")
    q.save_verdict(db, rows[0].id or 0, verdict="fail")  # a second verdict never overwrites
    assert q.all_samples(db, "r1")[0].verdict == "pass"
    assert len(q.unscored_samples(db, "r1")) == 3


def test_racing_workers_claim_each_run_once(db: Engine) -> None:
    eps = [EndpointConfig(url=f"http://e{i}/v1") for i in range(12)]
    for i in range(12):
        q.add_run(db, _run(f"r{i:02}", endpoint=f"http://e{i}/v1"))
    got: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def work(wid: str) -> None:
        try:
            urls = _declare(db, wid, *eps)
            mine = got.setdefault(wid, [])
            while (run := queue.claim(db, wid, urls, 30.0)) is not None:
                mine.append(run.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{k}",)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    claimed = [r for ids in got.values() for r in ids]
    assert sorted(claimed) == [f"r{i:02}" for i in range(12)]  # each exactly once
    for wid, ids in got.items():
        assert all(q.get_run(db, r).worker_id == wid for r in ids)  # type: ignore[union-attr]


def test_a_lapsed_lease_is_taken_over_and_the_old_holder_learns_it(db: Engine) -> None:
    urls = _declare(db, "old", EndpointConfig(url="http://a/v1"), lease_s=0.6)
    _declare(db, "new", EndpointConfig(url="http://a/v1"))
    q.add_run(db, _run("r1"))
    assert queue.claim(db, "old", urls, 0.6) is not None
    assert queue.claim(db, "new", urls, 30.0) is None  # held, and the endpoint is busy
    assert queue.renew(db, "old", 0.6, ["r1"]) == {"r1"}
    time.sleep(0.9)  # the old holder stalls past its lease
    taken = queue.claim(db, "new", urls, 30.0)
    assert taken is not None and taken.worker_id == "new" and taken.status == "running"
    assert queue.renew(db, "old", 0.6, ["r1"]) == set()  # it must stop the run
    assert queue.renew(db, "new", 30.0, ["r1"]) == {"r1"}


def test_endpoint_slots_affinity_and_swapping(db: Engine) -> None:
    shared = EndpointConfig(url="http://shared/v1", concurrency=3)
    swap = EndpointConfig(url="http://swap/v1", concurrency=4, swaps=True)
    only_b = EndpointConfig(url="http://b/v1")
    urls = _declare(db, "w1", shared, swap)
    _declare(db, "w2", only_b)
    for i, c in enumerate([2, 2, 1]):  # 2 + 2 > 3 slots: the second waits, the third fits
        q.add_run(db, _run(f"s{i}", endpoint=shared.url, concurrency=c))
    q.add_run(db, _run("x-a1", endpoint=swap.url, model="a"))
    q.add_run(db, _run("x-b", endpoint=swap.url, model="b"))
    q.add_run(db, _run("x-a2", endpoint=swap.url, model="a"))
    q.add_run(db, _run("b1", endpoint=only_b.url))
    q.add_run(db, _run("b2", endpoint=only_b.url))
    claimed = []
    while (run := queue.claim(db, "w1", urls, 30.0)) is not None:
        claimed.append((run.id, run.slots))
    assert sorted(claimed) == [("s0", 2), ("s2", 1), ("x-a1", 1), ("x-a2", 1)]
    # b is another worker's endpoint; without declared slots it serves one run at a time
    assert queue.claim(db, "w2", ["http://b/v1"], 30.0).id == "b1"  # type: ignore[union-attr]
    assert queue.claim(db, "w2", ["http://b/v1"], 30.0) is None
    for rid in ("s0", "x-a1", "x-a2"):
        q.finish_run(db, rid, "succeeded")
        queue.release(db, "w1", rid)
    after = []
    while (run := queue.claim(db, "w1", urls, 30.0)) is not None:
        after.append(run.id)
    assert sorted(after) == ["s1", "x-b"]


def test_cancelled_runs_are_not_claimed_and_workers_are_listed(db: Engine) -> None:
    urls = _declare(db, "w1", EndpointConfig(url="http://a/v1", concurrency=4))
    q.add_run(db, _run("gone"))
    q.request_cancel(db, "gone")
    q.add_run(db, _run("kept"))
    run = queue.claim(db, "w1", urls, 30.0)
    assert run is not None and run.id == "kept"
    [(w, alive, held)] = queue.workers(db)
    assert w.id == "w1" and alive and [r.id for r in held] == ["kept"]
    assert w.endpoints == ["http://a/v1"] and w.pid == os.getpid()
    queue.stop_worker(db, "w1")
    assert queue.workers(db) == []
    assert [a for _, a, _ in queue.workers(db, include_stopped=True)] == [False]


def test_many_clients_queue_cancel_and_read_at_once(url: str) -> None:
    """Two servers' engines and a CLI's, writing and reading together: nothing is lost or
    duplicated."""
    engines = [make_engine(url) for _ in range(3)]
    errors: list[BaseException] = []

    def client(k: int) -> None:
        db = engines[k]
        try:
            for i in range(25):
                q.add_run(db, _run(f"c{k}-{i:02}"))
                if i % 5 == 0:
                    q.request_cancel(db, f"c{k}-{i:02}")
                q.list_runs(db, limit=10)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    runs = q.list_runs(engines[0], limit=1000)
    assert len(runs) == len({r.id for r in runs}) == 75
    assert sum(r.status == "cancelled" for r in runs) == 15
    for e in engines:
        e.dispose()


def test_listen_notify_wakes_an_idle_worker() -> None:
    """PostgreSQL only: on SQLite the one worker polls."""
    from benchdock.harnesses.engine.worker import _Listener

    db = make_engine(shared_server().url())
    listener = _Listener(db)
    try:
        listener.wait(0.05)
        assert not listener.heard
        threading.Timer(0.2, q.add_run, args=(db, _run("n1"))).start()
        t0 = time.monotonic()
        listener.wait(5.0)
        assert listener.heard and time.monotonic() - t0 < 2.0
    finally:
        listener.close()


def test_workers_cli_tool_and_migrate_on_both(url: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from fastmcp import Client

    from benchdock.harnesses.engine.worker import list_workers
    from benchdock.server.app import create_server
    from benchdock.server.cli import main
    from tests.conftest import make_settings

    monkeypatch.setenv("BENCHDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BENCHDOCK_DATABASE_URL", url)
    assert main(["migrate"]) == 0
    assert f"applied {MIGRATIONS[0][0]}" in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert "already up to date" in capsys.readouterr().out
    db = make_engine(url)
    urls = _declare(db, "box:1:a", EndpointConfig(url="http://a/v1", concurrency=2))
    _declare(db, "gone:2:b", EndpointConfig(url="http://a/v1"), lease_s=0.2)
    q.add_run(db, _run("held"))
    q.add_run(db, _run("waiting", endpoint="http://nobody/v1"))
    assert queue.claim(db, "box:1:a", urls, 30.0) is not None
    time.sleep(0.3)  # gone:2:b stops renewing: dead
    listing = list_workers(db)
    assert listing.database == db.dialect.name and listing.unclaimed == 1
    assert {(w.id, w.alive, tuple(w.runs)) for w in listing.workers} == {
        ("box:1:a", True, ("held",)), ("gone:2:b", False, ())}
    assert main(["workers"]) == 0
    out = capsys.readouterr().out
    assert "box:1:a" in out and "alive" in out and "DEAD" in out and "held" in out
    settings = make_settings(tmp_path / "home", "http://a/v1").model_copy(
        update={"database_url": url})
    async def call() -> dict[str, object]:
        async with Client(create_server(settings)) as c:
            res = await c.call_tool("list_workers", {})
            return payload(res)

    import anyio

    got = anyio.run(call)
    assert got["unclaimed"] == 1 and len(got["workers"]) == 2  # type: ignore[arg-type]


def test_the_server_starts_a_local_worker_only_for_runs_one_could_serve(
        db: Engine, tmp_path: Path) -> None:
    from benchdock.harnesses.engine.worker import needs_worker
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, "http://a/v1")
    urls = _declare(db, "elsewhere", EndpointConfig(url="http://a/v1"), lease_s=0.5)
    q.add_run(db, _run("mine"))
    q.add_run(db, _run("theirs", endpoint="http://remote/v1"))
    assert needs_worker(settings, db, q.get_run(db, "mine"))  # type: ignore[arg-type]
    # a run on an endpoint this machine does not name: on PostgreSQL a worker elsewhere
    # serves it; SQLite's store is this machine's, and its one worker serves every run
    assert needs_worker(settings, db, q.get_run(db, "theirs")) == (  # type: ignore[arg-type]
        not is_postgres(db))
    assert queue.claim(db, "elsewhere", urls, 0.5) is not None
    assert not needs_worker(settings, db, q.get_run(db, "mine"))  # type: ignore[arg-type]
    time.sleep(0.7)  # its holder went silent
    assert needs_worker(settings, db, q.get_run(db, "mine"))  # type: ignore[arg-type]


def test_the_comparison_reads_the_same_evidence_on_both(db: Engine, tmp_path: Path) -> None:
    """compare_dimensions' queries (one array parameter on PostgreSQL, IN lists on SQLite;
    per-task means decoded only where present) give the same matrix on either database."""
    from benchdock.harnesses.choice.compare import compare
    from benchdock.harnesses.engine.evidence import ensure_evidence
    from benchdock.store import evidence as ev
    from benchdock.store.tables import DimensionEvidence, RunSummary
    from tests.scripts.perf_compare import build_store

    build_store(Path("-"), 3, 4, 30, url=db.url.render_as_string(hide_password=False))
    assert ensure_evidence(db) == 12
    matrix = {(m.model, d): (c.score, c.n) for m in compare(db, limit=None).models
              for d, c in m.dimensions.items()}
    assert len(matrix) == 30 and sum(n for _, n in matrix.values()) > 0
    # the same store on the other database gives the same matrix (the seeded outcomes)
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}" if db.dialect.name != "sqlite"
                        else shared_server().url())
    build_store(Path("-"), 3, 4, 30, url=other.url.render_as_string(hide_password=False))
    ensure_evidence(other)
    assert matrix == {(m.model, d): (c.score, c.n) for m in compare(other, limit=None).models
                      for d, c in m.dimensions.items()}
    # a row with per-task means (n_samples > 1) keeps them; the others read None
    rid = ev.summaries(db)[0].run_id
    summary = RunSummary(run_id=rid, version=1, model="x", benchmark="humaneval",
                         family="humaneval", benchmark_version="v", endpoint_url="u")
    ev.save_evidence(db, summary, [DimensionEvidence(
        run_id=rid, dimension="generation", metric="pass@1", part="", n=2, total=1.5,
        values=[0.5, 1.0], tasks_hash="h", task_ids="a\nb")])
    [row] = ev.evidence_rows(db, [rid])
    assert row.values == [0.5, 1.0] and ev.task_ids(db, [row.id]) == {row.id: ["a", "b"]}
    from sqlmodel import Session, select

    with Session(db) as s:  # the ORM's own decoding of every row's `values`
        stored = {e.id: e.values for e in s.exec(select(DimensionEvidence)).all()}
    rows = ev.evidence_rows(db, [x.run_id for x in ev.summaries(db)])
    assert len(rows) == len(stored) and {r.id: r.values for r in rows} == stored
