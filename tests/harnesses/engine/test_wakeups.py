"""The worker blocks between events instead of polling the store (issue 25: benchdock's own
wakeups took CPU from a model generating on the same cores).

A real `benchdock worker` process on a SQLite store: idle, its main thread sleeps in the
doorbell's select (store/doorbell.py) — it used to wake every 0.3 s to claim, and each run's
watcher every 0.5 s to write a heartbeat; a run queued rings it and is claimed at once; a
cancel rings it and the run stops within a second although its watcher looks at the store
unpoked only every 5 s."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy import create_engine

from benchdock.store import queries as q
from benchdock.store import queue
from benchdock.store.db import make_engine
from benchdock.store.doorbell import Doorbell, fifo_path, ring
from benchdock.store.tables import Run
from tests.harnesses.engine.test_pg_workers import plugin_site, start_worker, worker_env
from tests.support.fake_endpoint import CountingEndpoint


def switches(pid: int, tid: int | None = None) -> int:
    """Context switches (voluntary + involuntary) of one thread of `pid`: its wake-ups."""
    status = Path(f"/proc/{pid}/task/{tid or pid}/status").read_text()
    return sum(int(line.split()[1]) for line in status.splitlines()
               if line.endswith("ctxt_switches") or "ctxt_switches:" in line)


def count_run(run_id: str, endpoint: str, tasks: int) -> Run:
    return Run(id=run_id, benchmark="count", benchmark_version="count 0.1.0",
               dataset_hash=f"count-{tasks}", model="m", endpoint_url=endpoint,
               task_ids=[f"count/{t}" for t in range(tasks)], total=tasks, concurrency=1,
               params={"temperature": 0.0, "max_tokens": 16})


def test_the_doorbell_wakes_its_waiter_and_only_it(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path / 'benchdock.db'}")
    path = fifo_path(db)
    assert path == tmp_path / "benchdock.db.wake"
    ring(db)  # nobody listens: nothing happens, nothing blocks
    bell = Doorbell(path)
    try:
        t0 = time.monotonic()
        assert bell.wait(0.3) is False and time.monotonic() - t0 >= 0.29
        ring(db)
        ring(db)
        assert bell.wait(5.0) is True  # both bytes: one wake-up
        assert bell.wait(0.05) is False
    finally:
        bell.close()
    assert fifo_path(create_engine("sqlite://")) is None  # in memory: no file to ring beside


def test_an_idle_worker_sleeps_and_wakes_for_a_run_and_a_cancel(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'store.db'}"
    db = make_engine(db_url)
    ep = CountingEndpoint(0.3)
    cfg = tmp_path / "w.toml"
    cfg.write_text(f'[[endpoints]]\nurl = "{ep.url}"\nconcurrency = 1\n')
    env = worker_env(tmp_path / "home", db_url, cfg, plugin_site(tmp_path / "site"),
                     tmp_path / "scored.log") | {"BENCHDOCK_WORKER_LEASE": "30",
                                                 "BENCHDOCK_COUNT_TASKS": "40"}
    proc: subprocess.Popen[bytes] = start_worker(env, tmp_path / "home")
    try:
        deadline = time.monotonic() + 60
        while not queue.workers(db):  # registered: its loop is about to start
            assert proc.poll() is None and time.monotonic() < deadline, "the worker died"
            time.sleep(0.1)
        time.sleep(1.0)  # its start-up is over
        before = switches(proc.pid)
        time.sleep(3.0)
        idle = switches(proc.pid) - before
        # polling every 0.3 s would be 10 wake-ups; a lease renewal every 10 s is at most one
        assert idle <= 3, f"the idle worker's main thread woke {idle} times in 3 s"

        q.add_run(db, count_run("slow", ep.url, 40))  # rings the doorbell
        queued = time.monotonic()
        while (run := q.get_run(db, "slow")) is not None and run.status == "queued":
            assert time.monotonic() - queued < 2.0, "the queued run was not claimed at once"
            time.sleep(0.05)
        while q.count_scored(db, "slow") < 4:  # well under way: the claim's own work is done
            assert time.monotonic() - queued < 60
            time.sleep(0.05)
        before = switches(proc.pid)
        time.sleep(3.0)
        busy = switches(proc.pid) - before
        # the watcher and the lease renewal are events too; polling would be 10 or more
        assert busy <= 4, f"the worker's main thread woke {busy} times in 3 s of a run"

        q.request_cancel(db, "slow")  # rings the doorbell: the worker pokes the run's watcher
        asked = time.monotonic()
        while (run := q.get_run(db, "slow")) is not None and run.status == "running":
            assert time.monotonic() - asked < 2.5, "the cancel took longer than a poke"
            time.sleep(0.05)
        assert run is not None and run.status == "cancelled"
        assert q.count_scored(db, "slow") < 40
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        ep.close()
