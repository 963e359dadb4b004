"""Several workers on one PostgreSQL store, as on several machines: three `benchdock worker`
processes with separate homes, each reaching an endpoint of its own and a shared one; two of
them are killed with SIGKILL at random moments mid-run and come back as new processes (a
machine restarting). Every run completes, every sample is scored exactly once, no endpoint
ever sees more requests at once than its slots (counted at the fake endpoints), and the
runs a dead worker held are taken over within the lease."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from benchdock.store import queries as q
from benchdock.store import queue
from benchdock.store.db import make_engine
from benchdock.store.tables import Run
from tests.conftest import FIXTURES
from tests.support.fake_endpoint import CountingEndpoint
from tests.support.pgserver import shared_server

FIXTURE = FIXTURES / "queueplug"
# short, so takeovers are seen within the test; long enough that a worker on a loaded machine
# (parallel test workers on two cores) keeps renewing it (every third of it)
LEASE_S = 6.0


def plugin_site(root: Path) -> Path:
    """The `count` benchmark, visible to a worker process through its entry point."""
    info = root / "benchdock_queueplug-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: benchdock-queueplug\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[benchdock.benchmarks]\ncount = benchdock_queueplug:benchmarks\n")
    return root


def worker_env(home: Path, url: str, config: Path, site: Path, log: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCHDOCK_")}
    env.update(BENCHDOCK_HOME=str(home), BENCHDOCK_DATABASE_URL=url, BENCHDOCK_CONFIG=str(config),
               BENCHDOCK_SANDBOX="local", BENCHDOCK_WORKER_LEASE=str(LEASE_S),
               BENCHDOCK_COUNT_TASKS="24", BENCHDOCK_COUNT_LOG=str(log),
               PYTHONPATH=os.pathsep.join([str(site), str(FIXTURE)]))
    return env


def start_worker(env: dict[str, str], home: Path) -> subprocess.Popen[bytes]:
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "worker.log", "ab") as logf:
        return subprocess.Popen([sys.executable, "-m", "benchdock.server.cli", "worker",
                                 "--idle-exit", "0"], env=env, stdout=logf, stderr=logf,
                                stdin=subprocess.DEVNULL)


def test_three_workers_two_killed_every_sample_once_within_slots(tmp_path: Path) -> None:
    url = shared_server().url()
    db = make_engine(url)
    eps = [CountingEndpoint(0.05) for _ in range(4)]  # own endpoints 0..2, shared 3
    slots = {eps[0].url: 2, eps[1].url: 2, eps[2].url: 2, eps[3].url: 3}
    site = plugin_site(tmp_path / "site")
    log = tmp_path / "scored.log"
    envs = []
    for k in range(3):
        cfg = tmp_path / f"w{k}.toml"
        cfg.write_text("".join(f'[[endpoints]]\nurl = "{e.url}"\nconcurrency = {slots[e.url]}\n'
                               for e in (eps[k], eps[3])))
        envs.append(worker_env(tmp_path / f"home{k}", url, cfg, site, log))
    runs = []
    for i in range(10):  # 2 on each own endpoint, 4 on the shared one; one model per run
        ep = eps[i % 3] if i < 6 else eps[3]
        runs.append(Run(id=f"run{i}", benchmark="count", benchmark_version="count 0.1.0",
                        dataset_hash="count-24", model=f"model{i}", endpoint_url=ep.url,
                        task_ids=[f"count/{t}" for t in range(24)], total=24,
                        concurrency=1 if i == 9 else 2,
                        params={"temperature": 0.0, "top_p": 1.0, "max_tokens": 16}))
    procs = [start_worker(envs[k], tmp_path / f"home{k}") for k in range(3)]
    try:
        for r in runs:
            q.add_run(db, r)
        # two workers die at random moments once scoring is under way
        rng = random.Random(os.environ.get("BENCHDOCK_TEST_SEED"))
        changes = Watcher(db)  # every change of a run's holder, as it happens
        deadline = time.monotonic() + 60
        while _scored(db) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        held_at_death: dict[str, float] = {}
        shared_held: set[str] = set()
        alive = [0, 1, 2]
        for _ in range(2):
            time.sleep(rng.uniform(0.2, 1.5))
            holdings = {k: _holdings(db, procs[k].pid) for k in alive}
            # the victim: one holding a run on the shared endpoint if any (the survivor can
            # take that over), else any
            k = next((k for k in alive if any(r.endpoint_url == eps[3].url
                                               for r in holdings[k])), rng.choice(alive))
            os.kill(procs[k].pid, signal.SIGKILL)
            procs[k].wait()
            alive.remove(k)
            held_at_death.update({r.id: time.monotonic() for r in holdings[k]})
            shared_held |= {r.id for r in holdings[k] if r.endpoint_url == eps[3].url}
            procs[k] = start_worker(envs[k], tmp_path / f"home{k}")  # the machine comes back
        assert held_at_death, "the killed workers held no run: nothing was tested"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not changes.all_succeeded:
            time.sleep(0.1)
        changes.stop()
        takeover = {rid: changes.next_holder_after(rid, t) - t
                    for rid, t in held_at_death.items()}
        final = {r.id: r for r in q.list_runs(db, limit=100)}
        assert {r.status for r in final.values()} == {"succeeded"}, {
            r.id: (r.status, r.error) for r in final.values()}
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        for e in eps:
            e.close()
    # every sample has exactly one verdict, and every one passed (the right answer was kept)
    with db.connect() as conn:
        per_run = dict(conn.execute(text(
            "SELECT run_id, count(*) FROM sample WHERE verdict = 'pass' GROUP BY run_id")).all())
        assert conn.execute(text("SELECT count(*) FROM sample")).scalar_one() == 240
    assert per_run == {r.id: 24 for r in runs}
    # scored once: no answer scored twice by a worker that lived; every answer scored
    lines = [line.split(" ", 1) for line in log.read_text().splitlines()]
    dead = {p for p, _ in lines} - {str(p.pid) for p in procs}
    survivors = Counter(a for p, a in lines if p not in dead)
    assert max(survivors.values()) == 1
    assert len({a for _, a in lines}) == 240
    # slots held across all workers together, measured where the requests arrive
    for e in eps:
        assert 1 <= e.max_in_flight <= slots[e.url], (e.url, e.max_in_flight)
    assert eps[3].max_in_flight == 3  # the shared endpoint was used to its slots, not beyond
    # taken over within the lease (plus one claim poll and a new process's start)
    assert takeover.keys() == held_at_death.keys()
    print("takeover after death (s):", {r: round(t, 2) for r, t in sorted(takeover.items())})
    # a shared run goes to a live worker once the lease has run out (plus at most one claim
    # poll, a third of the lease, and 5 s for a loaded machine: parallel test workers on two
    # cores are such load); a run on a dead worker's own
    # endpoint waits for that worker's return (a new process: its start-up counts too), so it
    # is only checked above
    assert shared_held, "no killed worker held a shared run: the takeover was not tested"
    assert max(takeover[r] for r in shared_held) < LEASE_S + LEASE_S / 3 + 5.0, takeover


class Watcher(threading.Thread):
    """Polls the runs every 50 ms and keeps when each got a new holder."""

    def __init__(self, db: Engine) -> None:
        super().__init__(daemon=True)
        self.db, self.events = db, []  # type: list[tuple[float, str, str | None]]
        self.all_succeeded, self._halt = False, threading.Event()
        self.start()

    def run(self) -> None:
        last: dict[str, str | None] = {}
        while not self._halt.is_set():
            runs = q.list_runs(self.db, limit=100)
            for r in runs:
                if last.get(r.id, "") != r.worker_id:
                    last[r.id] = r.worker_id
                    self.events.append((time.monotonic(), r.id, r.worker_id))
            self.all_succeeded = all(r.status == "succeeded" for r in runs)
            time.sleep(0.05)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def next_holder_after(self, run_id: str, t: float) -> float:
        return next(ts for ts, rid, _ in self.events if rid == run_id and ts > t)


def _scored(db: object) -> int:
    with db.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(text("SELECT count(*) FROM sample WHERE verdict IS NOT NULL"))
                   .scalar_one())


def _holdings(db: Engine, pid: int) -> list[Run]:
    """The runs the worker process `pid` holds now."""
    for _ in range(100):
        for w, alive, held in queue.workers(db):
            if w.pid == pid and alive:
                return held
        time.sleep(0.1)
    raise AssertionError(f"worker pid {pid} never registered")


def test_a_stopped_worker_gives_its_run_back_at_once(tmp_path: Path) -> None:
    """SIGTERM (a machine shutting down cleanly): the run is queued again without waiting out
    the lease, the worker is listed as stopped, and another worker finishes the run."""
    url = shared_server().url()
    db = make_engine(url)
    ep = CountingEndpoint(0.1)
    cfg = tmp_path / "w.toml"
    cfg.write_text(f'[[endpoints]]\nurl = "{ep.url}"\n')
    site, log = plugin_site(tmp_path / "site"), tmp_path / "scored.log"
    env = worker_env(tmp_path / "home", url, cfg, site, log) | {"BENCHDOCK_WORKER_LEASE": "60"}
    q.add_run(db, Run(id="r", benchmark="count", benchmark_version="count 0.1.0",
                      dataset_hash="count-24", model="m", endpoint_url=ep.url,
                      task_ids=[f"count/{t}" for t in range(24)], total=24,
                      params={"temperature": 0.0, "max_tokens": 16}))
    first = start_worker(env, tmp_path / "home")
    second = None
    try:
        deadline = time.monotonic() + 300
        while _scored(db) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
        run = q.get_run(db, "r")
        assert run is not None and run.status == "queued" and run.worker_id is None
        assert 3 <= _scored(db) < 24
        [(w, alive, held)] = queue.workers(db, include_stopped=True)
        assert w.stopped_at is not None and not alive and held == []
        second = start_worker(env, tmp_path / "home2")
        deadline = time.monotonic() + 300  # the second worker's start and 21 samples: waited
        # for, not timed (a loaded machine makes both slow)
        while q.get_run(db, "r").status != "succeeded" and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.1)
        assert q.get_run(db, "r").status == "succeeded"  # type: ignore[union-attr]
        assert q.count_scored(db, "r") == 24
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        ep.close()
