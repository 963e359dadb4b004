"""Figures for the shared queue, measured in one run (not a timed test).

    python tests/scripts/perf_queue.py [--samples 10000] [--runs 50] [--workers 1,2,4] [--lease 10]

Starts a throwaway PostgreSQL 15 (tests/support/pgserver.py) and a fake endpoint that answers at once
(tests/support/fake_endpoint.py), then prints:
1. throughput of claiming, generating and scoring `samples` trivial samples (`count`, the
   tests' benchmark, scored without the sandbox; `runs` runs of samples/runs tasks) with 1, 2
   and 4 `benchdock worker` processes on PostgreSQL, and with the one worker per machine SQLite
   allows (each worker, on either store, runs up to BENCHDOCK_WORKER_RUNS runs at once);
2. the time from a worker's SIGKILL to its run resuming on another worker (the run's holder
   changes, then its next sample is scored), with a lease of `lease` seconds;
3. compare_dimensions through the in-memory MCP client on perf_compare.py's 100-model store
   (100 models x 10 benchmarks x 1,000 samples) held in PostgreSQL, then in SQLite: median
   and p90, and the median of reading the evidence from the database alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.harnesses.engine.test_pg_workers import FIXTURE, plugin_site
from tests.support.fake_endpoint import CountingEndpoint
from tests.support.pgserver import PgServer


def queue_runs(url: str, endpoint: str, runs: int, tasks: int) -> None:
    from benchdock.store import queries as q
    from benchdock.store.db import make_engine
    from benchdock.store.tables import Run

    db = make_engine(url)
    for i in range(runs):
        q.add_run(db, Run(id=f"p{i:04}", benchmark="count", benchmark_version="count 0.1.0",
                          dataset_hash=f"count-{tasks}", model=f"model{i}", endpoint_url=endpoint,
                          task_ids=[f"count/{t}" for t in range(tasks)], total=tasks,
                          concurrency=8, params={"temperature": 0.0, "max_tokens": 16}))
    db.dispose()


def env_for(home: Path, url: str, endpoint: str, site: Path, tasks: int,
            lease: float) -> dict[str, str]:
    cfg = home / "benchdock.toml"
    home.mkdir(parents=True, exist_ok=True)
    cfg.write_text(f'[[endpoints]]\nurl = "{endpoint}"\nconcurrency = 1000\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCHDOCK_")}
    env.update(BENCHDOCK_HOME=str(home), BENCHDOCK_DATABASE_URL=url, BENCHDOCK_CONFIG=str(cfg),
               BENCHDOCK_SANDBOX="local", BENCHDOCK_COUNT_TASKS=str(tasks),
               BENCHDOCK_WORKER_LEASE=str(lease), BENCHDOCK_LOG_LEVEL="WARNING",
               PYTHONPATH=os.pathsep.join([str(site), str(FIXTURE)]))
    return env


def start(env: dict[str, str], idle_exit: float = 0) -> subprocess.Popen[bytes]:
    log = open(Path(env["BENCHDOCK_HOME"]) / "worker.log", "ab")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "benchdock.server.cli", "worker",
                             "--idle-exit", str(idle_exit)], env=env, stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL)


def count(url: str, sql: str) -> int:
    from sqlalchemy import create_engine

    from benchdock.store.db import normalise_url

    eng = create_engine(normalise_url(url))
    with eng.connect() as conn:
        n = int(conn.execute(text(sql)).scalar_one())
    eng.dispose()
    return n


def throughput(url: str, n_workers: int, tmp: Path, site: Path, ep: CountingEndpoint,
               samples: int, runs: int) -> float:
    tasks = samples // runs
    envs = [env_for(tmp / f"w{k}", url, ep.url, site, tasks, 30.0) for k in range(n_workers)]
    procs = [start(e) for e in envs]
    time.sleep(3)  # their start-up is not the queue's cost
    t0 = time.perf_counter()
    queue_runs(url, ep.url, runs, tasks)
    while count(url, "SELECT count(*) FROM run WHERE status NOT IN "
                     "('succeeded','failed','cancelled')"):
        time.sleep(0.2)
    dt = time.perf_counter() - t0
    for p in procs:
        p.send_signal(signal.SIGINT)
    for p in procs:
        p.wait(60)
    failed = count(url, "SELECT count(*) FROM run WHERE status <> 'succeeded'")
    scored = count(url, "SELECT count(*) FROM sample WHERE verdict IS NOT NULL")
    assert failed == 0 and scored == tasks * runs, (failed, scored)
    return tasks * runs / dt


def death_to_resume(url: str, tmp: Path, site: Path, lease: float) -> tuple[float, float]:
    from benchdock.store import queries as q
    from benchdock.store.db import make_engine

    ep = CountingEndpoint(0.02)
    try:
        envs = [env_for(tmp / f"d{k}", url, ep.url, site, 2000, lease) for k in range(2)]
        procs = [start(e) for e in envs]
        time.sleep(3)
        queue_runs(url, ep.url, 1, 2000)
        db = make_engine(url)
        while q.count_scored(db, "p0000") < 50:
            time.sleep(0.05)
        holder = q.get_run(db, "p0000").worker_id  # type: ignore[union-attr]
        victim = next(p for p in procs if holder and f":{p.pid}:" in holder)
        victim.send_signal(signal.SIGKILL)
        t_dead = time.perf_counter()
        victim.wait()
        scored_at_death = q.count_scored(db, "p0000")
        taken = resumed = None
        while resumed is None:
            run = q.get_run(db, "p0000")
            if taken is None and run is not None and run.worker_id != holder:
                taken = time.perf_counter() - t_dead
            if taken is not None and q.count_scored(db, "p0000") > scored_at_death:
                resumed = time.perf_counter() - t_dead
            time.sleep(0.02)
        for p in procs:
            if p is not victim:
                p.send_signal(signal.SIGINT)
                p.wait(60)
        return taken, resumed
    finally:
        ep.close()


def compare_latency(url: str, calls: int) -> dict[str, Any]:
    from benchdock.harnesses.config import EndpointConfig, Settings
    from benchdock.harnesses.engine.evidence import ensure_evidence
    from benchdock.server.app import create_server
    from benchdock.store.db import make_engine
    from tests.scripts.perf_compare import build_store, time_calls

    t = time.perf_counter()
    build_store(Path("-"), 100, 10, 1000, url=url)
    built = time.perf_counter() - t
    t = time.perf_counter()
    ensure_evidence(make_engine(url))
    summarised = time.perf_counter() - t
    settings = Settings(endpoints=[EndpointConfig(url="http://127.0.0.1:9/v1")],
                        home=Path(tempfile.mkdtemp()), database_url=url, sandbox="local")
    from benchdock.harnesses.choice.compare import load

    db = make_engine(url)
    reads = []
    for _ in range(calls):  # the store's part: the evidence read from the database
        t = time.perf_counter()
        load(db)
        reads.append(time.perf_counter() - t)
    times = asyncio.run(time_calls(create_server(settings), "compare_dimensions", {}, calls))
    return {"build_s": round(built, 1), "summarise_s": round(summarised, 1),
            "evidence_read_median_ms": round(statistics.median(reads) * 1000, 1),
            "median_ms": round(statistics.median(times) * 1000, 1),
            "p90_ms": round(sorted(times)[int(0.9 * (len(times) - 1))] * 1000, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--lease", type=float, default=10.0)
    ap.add_argument("--calls", type=int, default=21)
    ap.add_argument("--skip", default="", help="comma list of figures to skip: 1,2,3")
    args = ap.parse_args()
    skip = set(args.skip.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="benchdock-perfq-"))
    site = plugin_site(tmp / "site")
    server = PgServer.start()
    try:
        print(f"load average at start: {os.getloadavg()}, cpus: {os.cpu_count()}", flush=True)
        if "1" not in skip:
            ep = CountingEndpoint(0.0)
            try:
                rate = throughput(f"sqlite:///{tmp / 'sqlite' / 'b.db'}", 1, tmp / "sqlite", site,
                                  ep, args.samples, args.runs)
                print(f"1. SQLite, 1 worker: {rate:.0f} samples/s", flush=True)
                for n in (int(x) for x in args.workers.split(",")):
                    rate = throughput(server.url(), n, tmp / f"pg{n}", site, ep, args.samples,
                                      args.runs)
                    print(f"1. PostgreSQL, {n} worker(s): {rate:.0f} samples/s "
                          f"(endpoint: {ep.max_in_flight} requests at most at once)", flush=True)
            finally:
                ep.close()
        if "2" not in skip:
            taken, resumed = death_to_resume(server.url(), tmp, site, args.lease)
            print(f"2. SIGKILL -> run taken over by the other worker: {taken:.1f} s, -> its next "
                  f"sample scored: {resumed:.1f} s (lease {args.lease:.0f} s, renewed every "
                  f"{args.lease / 3:.1f} s)", flush=True)
        if "3" not in skip:  # the same store in both, measured one after the other
            for name, url in (("PostgreSQL", server.url()),
                              ("SQLite", f"sqlite:///{tmp / 'compare' / 'c.db'}")):
                figures = compare_latency(url, args.calls)
                print(f"3. compare_dimensions, 100 models in {name}: {figures} (target: median "
                      f"<= 200 ms; load average {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
