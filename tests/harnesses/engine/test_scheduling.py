"""Scheduling on one worker, the same on SQLite and PostgreSQL: runs on two endpoints run at
once; runs of two models on an endpoint that swaps models never overlap; an endpoint's slots
bound the requests of runs sharing it. Real `benchdock worker` processes, real stores (a
SQLite file, a PostgreSQL server), fake endpoints that record every request's model and
time (tests/support/fake_endpoint.py). On SQLite, a worker killed with SIGKILL mid-run has its run
taken over by the next worker at once (its pid is gone), and a run queued on an endpoint the
worker's configuration does not name is still served: the machine's one worker serves its
whole store."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from benchdock.store import queries as q
from benchdock.store.db import make_engine
from benchdock.store.tables import Run
from tests.harnesses.engine.test_pg_workers import plugin_site, start_worker, worker_env
from tests.support.fake_endpoint import CountingEndpoint
from tests.support.pgserver import shared_server

TASKS = 16


def store_url(kind: str, tmp_path: Path) -> str:
    return shared_server().url() if kind == "postgres" else f"sqlite:///{tmp_path / 'store.db'}"


def count_run(run_id: str, model: str, endpoint: str, concurrency: int) -> Run:
    return Run(id=run_id, benchmark="count", benchmark_version="count 0.1.0",
               dataset_hash=f"count-{TASKS}", model=model, endpoint_url=endpoint,
               task_ids=[f"count/{t}" for t in range(TASKS)], total=TASKS,
               concurrency=concurrency, params={"temperature": 0.0, "max_tokens": 16})


class Bed:
    """A store, a config naming `endpoints` (url, slots, swaps), and one worker on them."""

    # the product's lease (30 s): these tests measure no takeover, and a worker must not lose
    # a run because a loaded machine kept its heartbeat thread waiting a few seconds
    def __init__(self, kind: str, tmp_path: Path, endpoints: list[tuple[str, int, bool]],
                 lease_s: float = 30.0) -> None:
        self.db: Engine = make_engine(store_url(kind, tmp_path))
        cfg = tmp_path / "w.toml"
        cfg.write_text("".join(
            f'[[endpoints]]\nurl = "{u}"\nconcurrency = {n}\nswaps = {str(sw).lower()}\n'
            for u, n, sw in endpoints))
        self.log = tmp_path / "scored.log"
        self.home = tmp_path / "home"
        self.env = worker_env(self.home, str(self.db.url.render_as_string(hide_password=False)),
                              cfg, plugin_site(tmp_path / "site"), self.log) | {
            "BENCHDOCK_COUNT_TASKS": str(TASKS), "BENCHDOCK_WORKER_LEASE": str(lease_s)}
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        self.procs.append(start_worker(self.env, self.home))
        return self.procs[-1]

    def wait_all(self, run_ids: list[str], timeout_s: float = 600) -> dict[str, Run]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            runs = {r: q.get_run(self.db, r) for r in run_ids}
            if all(r is not None and r.status in ("succeeded", "failed", "cancelled")
                   for r in runs.values()):
                break
            time.sleep(0.1)
        return {k: v for k, v in runs.items() if v is not None}

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def worker_log(self) -> str:
        return (self.home / "worker.log").read_text(errors="replace")

    def assert_scored_once(self, runs: dict[str, Run], n_runs: int) -> None:
        """Every run succeeded, every sample passed, every answer was scored exactly once."""
        assert {r.status for r in runs.values()} == {"succeeded"}, {
            r.id: (r.status, r.error) for r in runs.values()}
        for rid in runs:
            samples = q.all_samples(self.db, rid)
            assert len(samples) == TASKS and all(s.verdict == "pass" for s in samples)
        answers = Counter(line.split(" ", 1)[1] for line in self.log.read_text().splitlines())
        assert len(answers) == n_runs * TASKS and max(answers.values()) == 1
        log = self.worker_log()
        assert "database is locked" not in log and "lease lost" not in log


def busy(reqs: list[tuple[str, float, float]]) -> list[tuple[float, float]]:
    """The spans during which at least one of `reqs` was in flight."""
    spans: list[tuple[float, float]] = []
    for _, s, e in sorted(reqs, key=lambda r: r[1]):
        if spans and s <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], e))
        else:
            spans.append((s, e))
    return spans


def overlap_s(a: list[tuple[str, float, float]], b: list[tuple[str, float, float]]) -> float:
    """Seconds during which a request of `a` and one of `b` were both in flight."""
    return sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in busy(a) for s2, e2 in busy(b))


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_runs_on_two_endpoints_run_at_once(kind: str, tmp_path: Path) -> None:
    # 0.4 s a request: the second run's claim can come ~0.8 s after the first's on a loaded
    # machine (CI: overlap 0.76 s of a 1.57 s run at 0.1 s a request), which must stay small
    # beside the runs themselves
    a, b = CountingEndpoint(0.4), CountingEndpoint(0.4)
    bed = Bed(kind, tmp_path, [(a.url, 2, False), (b.url, 2, False)])
    try:
        q.add_run(bed.db, count_run("ra", "m1", a.url, 2))
        q.add_run(bed.db, count_run("rb", "m2", b.url, 2))
        bed.start()
        runs = bed.wait_all(["ra", "rb"])
    finally:
        bed.stop()
        a.close()
        b.close()
    bed.assert_scored_once(runs, 2)
    # measured where the requests arrive: the two endpoints were busy at the same time for
    # most of the shorter run (one after the other, this would be 0)
    span = min(max(e for _, _, e in ep.requests) - min(s for _, s, _ in ep.requests)
               for ep in (a, b))
    both = overlap_s(a.requests, b.requests)
    print(f"{kind}: both endpoints busy {both:.2f}s of the shorter run's {span:.2f}s")
    assert both > span / 2, (both, span)
    assert a.max_in_flight == b.max_in_flight == 2


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_swapping_endpoint_serves_one_model_at_a_time(kind: str, tmp_path: Path) -> None:
    ep = CountingEndpoint(0.05)
    bed = Bed(kind, tmp_path, [(ep.url, 4, True)])
    try:
        q.add_run(bed.db, count_run("r1", "model-a", ep.url, 2))
        q.add_run(bed.db, count_run("r2", "model-b", ep.url, 2))
        bed.start()
        runs = bed.wait_all(["r1", "r2"])
    finally:
        bed.stop()
        ep.close()
    bed.assert_scored_once(runs, 2)
    reqs = sorted(ep.requests, key=lambda r: r[1])
    by = {m: [r for r in reqs if r[0] == m] for m in ("model-a", "model-b")}
    assert len(by["model-a"]) == len(by["model-b"]) == TASKS
    # never at once, never alternating: one model's requests all end before the other's start
    assert overlap_s(by["model-a"], by["model-b"]) == 0
    switches = sum(1 for x, y in pairwise(reqs) if x[0] != y[0])
    assert switches == 1, [m for m, _, _ in reqs]
    assert ep.max_in_flight == 2  # each run still used its concurrency


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_runs_of_one_model_share_an_endpoints_slots(kind: str, tmp_path: Path) -> None:
    """Three runs of one model, one request at a time each, on an endpoint with 2 slots: two
    run at once (2 requests in flight, which one run alone never sends), never three."""
    ep = CountingEndpoint(0.05)
    bed = Bed(kind, tmp_path, [(ep.url, 2, False)])
    ids = ["s1", "s2", "s3"]
    try:
        for rid in ids:
            q.add_run(bed.db, count_run(rid, "same", ep.url, 1))
        bed.start()
        runs = bed.wait_all(ids)
    finally:
        bed.stop()
        ep.close()
    assert {r.status for r in runs.values()} == {"succeeded"}
    assert all(q.count_scored(bed.db, r) == TASKS for r in ids)
    # one model, so each answer is scored once per run
    answers = Counter(line.split(" ", 1)[1] for line in bed.log.read_text().splitlines())
    assert len(answers) == TASKS and set(answers.values()) == {3}
    assert "database is locked" not in bed.worker_log()
    assert ep.max_in_flight == 2, ep.max_in_flight


def test_sqlite_worker_killed_mid_run_is_taken_over_at_once(tmp_path: Path) -> None:
    """SIGKILL: the run stays `running` under a lease of 600 s; the next worker sees its
    holder's pid is gone and takes it over at once, scoring only what is missing."""
    ep = CountingEndpoint(0.1)
    bed = Bed("sqlite", tmp_path, [(ep.url, 1, False)], lease_s=600)
    try:
        q.add_run(bed.db, count_run("k", "m", ep.url, 1))
        first = bed.start()
        deadline = time.monotonic() + 300
        while q.count_scored(bed.db, "k") < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        killed_at = time.monotonic()
        before = q.get_run(bed.db, "k")
        assert before is not None and before.status == "running"
        done_before = q.count_scored(bed.db, "k")
        assert 4 <= done_before < TASKS
        bed.start()
        while time.monotonic() < deadline:
            run = q.get_run(bed.db, "k")
            if run is not None and run.worker_id != before.worker_id:
                break
            time.sleep(0.05)
        takeover_s = time.monotonic() - killed_at
        runs = bed.wait_all(["k"])
    finally:
        bed.stop()
        ep.close()
    print(f"takeover after SIGKILL: {takeover_s:.2f}s (lease 600 s)")
    # the pid check, not the lease's end: far inside the lease even when the new worker's
    # start (its imports, its first claim) is slowed by a loaded machine
    assert takeover_s < 120, takeover_s
    assert runs["k"].status == "succeeded" and q.count_scored(bed.db, "k") == TASKS
    lines = [line.split(" ", 1) for line in bed.log.read_text().splitlines()]
    survivor = Counter(a for p, a in lines if p != str(first.pid))
    assert max(survivor.values()) == 1  # the new worker scored nothing twice
    assert len({a for _, a in lines}) == TASKS
    assert sum(survivor.values()) <= TASKS - done_before + 1  # only what was missing


def test_sqlite_worker_serves_a_run_on_an_endpoint_it_does_not_name(tmp_path: Path) -> None:
    """A CLI with another configuration queued the run: on SQLite the machine's one worker
    serves it anyway (on PostgreSQL it waits for a worker that names the endpoint)."""
    mine, other = CountingEndpoint(0.01), CountingEndpoint(0.01)
    bed = Bed("sqlite", tmp_path, [(mine.url, 2, False)])
    try:
        q.add_run(bed.db, count_run("adhoc", "m", other.url, 2))
        bed.start()
        runs = bed.wait_all(["adhoc"])
    finally:
        bed.stop()
        mine.close()
        other.close()
    bed.assert_scored_once(runs, 1)
    assert other.served == TASKS and mine.served == 0
