"""The worker process (`benchdock worker`): claims queued runs from the store and runs them.

A stdio MCP server dies with its client; the worker does not, so a run outlives the chat
that started it. One worker per BENCHDOCK_HOME holds `worker.lock`; the server starts one
when it queues a run and finds the lock free. A worker killed mid-run leaves its run
`running` with a dead pid: the next worker reclaims it and finishes only what is missing.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from pathlib import Path
from typing import IO

import anyio
from sqlalchemy.engine import Engine

from benchdock.harnesses.config import Settings
from benchdock.harnesses.engine import RunExecutor
from benchdock.store import queries as q
from benchdock.store.db import make_engine

log = logging.getLogger("benchdock.worker")


def after_run(db: Engine, run_id: str) -> None:
    """What follows a succeeded run: its evidence for the comparison. If this fails the
    comparison makes it on first use, so the run stays succeeded."""
    from benchdock.harnesses.choice.evidence import record

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
        if time.time() - float(ts) < 15 and q.pid_alive(int(pid_s)):
            return True
    except (OSError, ValueError):
        pass
    fh = try_lock(settings)
    if fh is None:
        return True
    fh.close()
    return False


def run_worker(settings: Settings, idle_exit_s: float = 5.0) -> int:
    """Claim and execute runs until none has been queued for `idle_exit_s`; returns runs done."""
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
    done = 0
    idle_since = time.monotonic()
    pid = os.getpid()
    try:
        while True:
            run = q.claim_run(db, pid)
            if run is None:
                if time.monotonic() - idle_since > idle_exit_s:
                    break
                time.sleep(0.3)
                continue
            log.info("run %s: %s on %s", run.id, run.model, run.benchmark)
            status = anyio.run(RunExecutor(settings, db, run).execute)
            log.info("run %s: %s", run.id, status)
            if status == "succeeded":
                after_run(db, run.id)
            done += 1
            idle_since = time.monotonic()
    finally:
        fh.close()  # releases the lock; the server starts a new worker for later runs
    return done


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
