"""The worker process (`benchdock worker`): claims queued runs from the store and runs them.

A stdio MCP server dies with its client; the worker does not, so a run outlives the chat
that started it. One worker per BENCHDOCK_HOME holds `worker.lock`; the server starts one
when it queues a run and finds the lock free. Both stores schedule through the same queue
(store/queue.py): a worker runs up to BENCHDOCK_WORKER_RUNS runs at once, as the endpoints'
slots allow. On SQLite the one worker of the machine serves every run its store holds, and a
worker killed mid-run leaves its run `running` with a dead pid: the next worker takes it
over at once and finishes only what is missing. On PostgreSQL any number of workers, on any
number of machines, share the queue: a dead worker's runs are taken over when their lease
runs out.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, ClassVar

import anyio
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine

from benchdock.harnesses.config import Settings
from benchdock.harnesses.engine.executor import RunExecutor
from benchdock.harnesses.engine.jobs import JobContext, JobHandlers, JobStopped
from benchdock.store import jobs as job_store
from benchdock.store import queries as q
from benchdock.store import queue
from benchdock.store.db import is_postgres, make_engine
from benchdock.store.doorbell import Doorbell, fifo_path
from benchdock.store.tables import FINAL_STATUSES, Run

log = logging.getLogger("benchdock.worker")
EXECUTOR_LOOK_S = 5.0  # a run's watcher looks at the store unpoked this often


def after_run(db: Engine, run_id: str) -> None:
    """What follows a succeeded run: its evidence for the comparison. If this fails the
    comparison makes it on first use, so the run stays succeeded."""
    from benchdock.harnesses.engine.evidence import record

    run = q.get_run(db, run_id)
    if run is None:
        return
    try:
        record(db, run, q.all_samples(db, run_id))
    except Exception:
        log.exception("run %s: could not record its dimension evidence", run_id)


def lock_path(settings: Settings) -> Path:
    return settings.home / "worker.lock"


def try_lock(settings: Settings) -> IO[str] | None:
    """Take the worker lock without waiting; None when another worker holds it."""
    settings.home.mkdir(parents=True, exist_ok=True)
    fh = open(lock_path(settings), "a+")  # noqa: SIM115 - held for the worker's lifetime
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    return fh


def worker_running(settings: Settings) -> bool:
    """A worker holds the lock, or one was spawned moments ago and is still starting."""
    marker = settings.home / "worker.spawned"
    try:
        pid_s, _, ts = marker.read_text().partition(" ")
        if time.time() - float(ts) < 15 and queue.pid_alive(int(pid_s)):
            return True
    except (OSError, ValueError):
        pass
    fh = try_lock(settings)
    if fh is None:
        return True
    fh.close()
    return False


def run_worker(settings: Settings, idle_exit_s: float = 5.0,
               handlers: JobHandlers | None = None) -> int:
    """Claim and execute runs (and the jobs `handlers` can do: set-ups, decisions) until
    nothing has been queued for `idle_exit_s` (0: never exit); returns runs done.

    Up to BENCHDOCK_WORKER_RUNS runs at once (default 4), each on its own thread, claimed
    through the queue (store/queue.py) as the endpoints' slots allow, under a lease of
    BENCHDOCK_WORKER_LEASE seconds (default 30) renewed every third of it. PostgreSQL: only
    runs on the endpoints this worker's settings name; SQLite: every run of the store.
    """
    fh = try_lock(settings)
    if fh is None:
        log.info("another worker holds %s; exiting", lock_path(settings))
        return 0
    db = make_engine(settings.database_url)
    try:
        from benchdock.harnesses.sandbox.docker_backend import reap_orphans

        reap_orphans()
    except Exception:  # no Docker here: nothing to reap
        pass
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # stop cleanly: give the runs back
    try:
        return Worker(settings, db, handlers).serve(idle_exit_s)
    except KeyboardInterrupt:
        log.info("worker stopped; its runs are queued again")
        return 0
    finally:
        fh.close()  # releases the lock; the server starts a new worker for later runs


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class Worker:
    """One worker process: its claims, their threads, its lease."""

    # jobs of a kind it runs at once: one set-up at a time (builds share the cores)
    JOB_LIMITS: ClassVar[dict[str, int]] = {"setup": 1}
    DEFAULT_JOB_LIMIT = 4

    def __init__(self, settings: Settings, db: Engine,
                 handlers: JobHandlers | None = None) -> None:
        self.settings, self.db = settings, db
        self.handlers = dict(handlers or {})
        self.jobs: dict[str, tuple[threading.Thread, JobContext]] = {}
        self.pg = is_postgres(db)
        self.id = queue.new_worker_id()
        self.lease_s = float(settings.var("BENCHDOCK_WORKER_LEASE") or 30.0)
        self.max_runs = max(1, int(settings.var("BENCHDOCK_WORKER_RUNS") or 4))
        self.endpoints = [e.url for e in settings.endpoints]
        # SQLite: the machine's one worker serves whatever its home queued, even on an
        # endpoint its own configuration does not name (a CLI run given another config)
        self.serves: list[str] | None = self.endpoints if self.pg else None
        self.active: dict[str, tuple[threading.Thread, RunExecutor]] = {}
        self.done = 0

    def serve(self, idle_exit_s: float) -> int:
        queue.register_worker(self.db, self.id, str(self.settings.home), self.settings.endpoints,
                              self.max_runs, self.lease_s)
        log.info("worker %s: endpoints %s, %d run(s) at once, lease %.0fs", self.id,
                 ", ".join(self.endpoints), self.max_runs, self.lease_s)
        listener = _Listener(self.db) if self.pg else None
        bell = _doorbell(self.db) if not self.pg else None
        renew_s = self.lease_s / 3
        idle_since = last_renew = time.monotonic()
        woken = True  # look for work at once
        try:
            while True:
                now = time.monotonic()
                for rid in [r for r, (t, _) in self.active.items() if not t.is_alive()]:
                    del self.active[rid]
                for jid in [j for j, (t, _) in self.jobs.items() if not t.is_alive()]:
                    del self.jobs[jid]
                if now - last_renew >= renew_s:
                    self._renew()
                    last_renew, woken = now, True  # and look for work: a missed wake-up
                if woken:
                    while len(self.active) < self.max_runs and self._claim_one():
                        pass
                    while self.handlers and self._claim_job():
                        pass
                if self.active or self.jobs:
                    idle_since = now
                elif idle_exit_s and now - idle_since > idle_exit_s:
                    break
                # block until something happens (a run queued, cancelled, resumed or ended)
                # or the lease wants renewing: no polling while runs generate
                timeout = max(0.0, renew_s - (time.monotonic() - last_renew))
                if idle_exit_s and not (self.active or self.jobs):
                    timeout = max(0.0, min(timeout, idle_exit_s + 0.05
                                           - (time.monotonic() - idle_since)))
                if listener is not None:
                    woken = listener.wait(timeout)
                elif bell is not None:
                    woken = bell.wait(timeout)
                else:  # an in-memory store: nothing can ring, look often
                    time.sleep(min(timeout, 0.3))
                    woken = True
                if woken:
                    for _, ex in list(self.active.values()):
                        ex.poke()  # a cancel, perhaps: its watcher looks at the store now
        finally:
            for t, ex in self.active.values():
                ex.lost.set()  # interrupted (SIGTERM, Ctrl-C): stop, and queue them again
                ex.poke()
                t.join(30)
            for t, ctx in self.jobs.values():
                ctx.lost.set()
                t.join(30)
            queue.give_back(self.db, self.id, list(self.active))
            job_store.give_back(self.db, self.id, list(self.jobs))
            if listener is not None:
                listener.close()
            if bell is not None:
                bell.close()
            queue.stop_worker(self.db, self.id)
        return self.done

    def _claim_one(self) -> bool:
        run = queue.claim(self.db, self.id, self.serves, self.lease_s)
        if run is None:
            return False
        log.info("run %s: %s on %s (%s)", run.id, run.model, run.benchmark, run.endpoint_url)
        ex = RunExecutor(self.settings, self.db, run)
        ex.look_every_s = EXECUTOR_LOOK_S  # the worker pokes it on every event
        t = threading.Thread(target=self._execute, args=(ex,), name=f"run-{run.id}", daemon=True)
        self.active[run.id] = (t, ex)
        t.start()
        return True

    def _execute(self, ex: RunExecutor) -> None:
        run_id = ex.run.id
        try:
            status = anyio.run(ex.execute)
            log.info("run %s: %s", run_id, status)
            if status == "succeeded":
                after_run(self.db, run_id)
            if status != "lost":
                self.done += 1
                queue.release(self.db, self.id, run_id)
        except Exception:
            log.exception("run %s: the worker could not execute it", run_id)
        finally:
            with contextlib.suppress(Exception):  # wake the main loop: claim into its slots
                queue.notify(self.db)

    def _claim_job(self) -> bool:
        """Claim one job this worker has a handler and room for."""
        running: dict[str, int] = {}
        for _, ctx in self.jobs.values():
            running[ctx.job.kind] = running.get(ctx.job.kind, 0) + 1
        kinds = [k for k in self.handlers
                 if running.get(k, 0) < self.JOB_LIMITS.get(k, self.DEFAULT_JOB_LIMIT)]
        job = job_store.claim(self.db, self.id, os.getpid(), self.lease_s, kinds)
        if job is None:
            return False
        log.info("job %s: %s %s", job.id, job.kind, job.key)
        ctx = JobContext(self.settings, self.db, job, self.id)
        t = threading.Thread(target=self._do_job, args=(ctx,), name=f"job-{job.id}",
                             daemon=True)
        self.jobs[job.id] = (t, ctx)
        t.start()
        return True

    def _do_job(self, ctx: JobContext) -> None:
        job = ctx.job
        try:
            result = self.handlers[job.kind](ctx)
            status = job_store.finish(self.db, job.id, "succeeded", self.id, result=result)
            log.info("job %s: %s", job.id, status)
        except JobStopped as exc:
            if not ctx.lost.is_set():
                job_store.finish(self.db, job.id, "cancelled", self.id, error=str(exc))
            log.info("job %s: stopped (%s)", job.id, exc)
        except Exception as exc:
            log.exception("job %s failed", job.id)
            ctx.log(f"failed: {type(exc).__name__}: {exc}")
            job_store.finish(self.db, job.id, "failed", self.id,
                             error=f"{type(exc).__name__}: {exc}",
                             result=getattr(exc, "result", None))
        finally:
            with contextlib.suppress(Exception):  # wake the main loop: claim into its slots
                queue.notify(self.db)

    def _renew(self) -> None:
        """Extend the leases; a run whose lease ran out (this worker stalled, or was cut off
        from the database) may be another's now: stop it here."""
        try:
            held = queue.renew(self.db, self.id, self.lease_s, list(self.active))
            held_jobs = job_store.renew(self.db, self.id, self.lease_s, list(self.jobs))
        except Exception:
            log.exception("worker %s: could not renew its leases", self.id)
            return
        for jid, (_, ctx) in list(self.jobs.items()):
            if jid not in held_jobs and not ctx.lost.is_set():
                job = job_store.get(self.db, jid)
                if job is not None and job.status == "running":
                    log.warning("job %s: lease lost; stopping", jid)
                    ctx.lost.set()
        for rid, (_, ex) in list(self.active.items()):
            if rid in held or ex.lost.is_set():
                continue
            run = q.get_run(self.db, rid)
            if run is not None and run.status in FINAL_STATUSES:
                continue  # it ended between its thread's last write and this renewal
            log.warning("run %s: lease lost, another worker may hold it; stopping", rid)
            ex.lost.set()
            ex.poke()


class _Listener:
    """LISTEN on the queue's channel (PostgreSQL): idle workers wake when a run is queued or
    slots are freed, instead of polling the database."""

    def __init__(self, db: Engine) -> None:
        import psycopg

        url = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute(f"LISTEN {queue.CHANNEL}")
        self.heard = False

    def wait(self, timeout: float) -> bool:
        """Block until a notification or `timeout`; whether one came."""
        self.heard = False
        for _ in self.conn.notifies(timeout=timeout, stop_after=1):
            self.heard = True
        return self.heard

    def close(self) -> None:
        self.conn.close()


def _doorbell(db: Engine) -> Doorbell | None:
    """The SQLite store's doorbell (store/doorbell.py), or None where it cannot be made (an
    in-memory store; a filesystem without FIFOs): the worker then looks every 0.3 s."""
    path = fifo_path(db)
    if path is None:
        return None
    try:
        return Doorbell(path)
    except OSError as exc:
        log.warning("no doorbell at %s (%s): the worker polls the store instead", path, exc)
        return None


def needs_worker(settings: Settings, db: Engine, run: Run) -> bool:
    """Whether a worker started here could serve `run`: it is on one of this machine's
    endpoints (PostgreSQL; on SQLite any run) and no live worker holds it (on PostgreSQL a worker elsewhere may hold it under
    a lease; a worker started here for it would only find nothing to do)."""
    if is_postgres(db) and run.endpoint_url not in {e.url for e in settings.endpoints}:
        return False  # SQLite: the machine's worker serves every run of its store
    if run.status != "running" or run.lease_until is None:
        return True
    until = run.lease_until if run.lease_until.tzinfo else run.lease_until.replace(tzinfo=UTC)
    return until < queue.db_now(db)


def spawn_worker(settings: Settings) -> int | None:
    """Start a detached worker unless one holds the lock; returns its pid (None if running).

    Detached (own session, no stdin, output to worker.log) so it survives the MCP client
    closing the server's stdio.
    """
    import subprocess
    import sys

    if worker_running(settings):
        return None
    settings.home.mkdir(parents=True, exist_ok=True)
    logf = open(settings.home / "worker.log", "ab")  # noqa: SIM115 - handed to the child
    env = {**os.environ, **settings.env()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchdock.server.cli", "worker"],
        stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=env, start_new_session=True,
        cwd=str(settings.home),
    )
    logf.close()
    threading.Thread(target=proc.wait, daemon=True).start()  # reap it when it exits
    (settings.home / "worker.spawned").write_text(f"{proc.pid} {time.time()}")
    return proc.pid


class WorkerView(BaseModel):
    """One worker as `list_workers` and `benchdock workers` show it."""

    id: str = Field(description="host:pid:suffix, unique per worker process")
    host: str
    pid: int
    alive: bool = Field(description="It renewed its lease in time and has not stopped")
    endpoints: list[str] = Field(description="The endpoints it serves (its configuration)")
    max_runs: int = Field(description="Runs it executes at once")
    runs: list[str] = Field(description="Run ids it holds now")
    heartbeat_at: datetime = Field(description="When it last renewed its lease (UTC)")
    lease_s: float = Field(description=(
        "Its lease: a worker silent this long is dead, and its runs go to another"))
    started_at: datetime
    stopped_at: datetime | None = None


class WorkerList(BaseModel):
    database: str = Field(description=(
        "sqlite (one worker per machine) or postgresql (workers on any number of machines)"))
    workers: list[WorkerView]
    unclaimed: int = Field(description="Runs queued, or running without a live holder")


def list_workers(db: Engine, include_stopped: bool = False) -> WorkerList:
    """Who is alive, what each holds, its endpoints and its lease."""
    views = [WorkerView(id=w.id, host=w.host, pid=w.pid, alive=alive, endpoints=w.endpoints,
                        max_runs=w.max_runs, runs=[r.id for r in held],
                        heartbeat_at=w.heartbeat_at, lease_s=w.lease_s,
                        started_at=w.started_at, stopped_at=w.stopped_at)
             for w, alive, held in queue.workers(db, include_stopped)]
    held_ids = {r for v in views if v.alive for r in v.runs}
    waiting = [r for r in q.list_runs(db, limit=1000)
               if r.status == "queued" or (r.status == "running" and r.id not in held_ids)]
    return WorkerList(database=db.dialect.name, workers=views, unclaimed=len(waiting))
