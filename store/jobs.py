"""Named queries over `Job`: the durable work that is not a run (setting benchmarks up, an
adaptive decision's loop).

A job is claimed like a run (store/queue.py) but needs no endpoint slots: the worker of the
host that queued it claims it under a lease it renews, and a job whose worker died (its lease
ran out, or on SQLite its pid is gone) is claimed again and carries on: setting up is
idempotent step by step, and a decision rebuilds its state from its runs. Asking for the
same work again (the same `key`) finds the job that is queued or running rather than
starting a second one.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from benchdock.store.queue import db_now, notify, pid_alive
from benchdock.store.tables import FINAL_STATUSES, Job

LOG_CHARS = 40_000  # a job keeps the end of its log: a pip build says a lot


def this_host() -> str:
    return socket.gethostname()


def get(engine: Engine, job_id: str) -> Job | None:
    with Session(engine, expire_on_commit=False) as s:
        return s.get(Job, job_id)


def latest(engine: Engine, kind: str, key: str) -> Job | None:
    """The newest job for this work, whatever its status."""
    with Session(engine, expire_on_commit=False) as s:
        return s.exec(select(Job).where(Job.kind == kind).where(Job.key == key)
                      .order_by(col(Job.created_at).desc()).limit(1)).first()


def add(engine: Engine, kind: str, key: str, params: dict[str, Any],
        total: float = 0.0) -> Job:
    job = Job(id=uuid.uuid4().hex[:12], kind=kind, key=key, host=this_host(), params=params,
              total=total)
    with Session(engine, expire_on_commit=False) as s:
        s.add(job)
        s.commit()
    notify(engine)
    return job


def requeue(engine: Engine, job_id: str, params: dict[str, Any] | None = None) -> Job | None:
    """Queue an ended job again (e.g. a decision given a larger budget), keeping its log."""
    values: dict[str, Any] = {"status": "queued", "error": None, "finished_at": None,
                              "cancel_requested": False, "worker_id": None,
                              "worker_pid": None, "lease_until": None}
    if params is not None:
        values["params"] = params
    with Session(engine, expire_on_commit=False) as s:
        s.execute(update(Job).where(col(Job.id) == job_id)
                  .where(col(Job.status).in_(FINAL_STATUSES)).values(**values))
        s.commit()
    notify(engine)
    return get(engine, job_id)


def set_params(engine: Engine, job_id: str, params: dict[str, Any]) -> None:
    """New settings for a job that is still going (it reads them as it goes)."""
    with Session(engine) as s:
        s.execute(update(Job).where(col(Job.id) == job_id).values(params=params))
        s.commit()


def list_jobs(engine: Engine, kind: str | None = None, limit: int = 20) -> list[Job]:
    with Session(engine, expire_on_commit=False) as s:
        q = select(Job).order_by(col(Job.created_at).desc()).limit(limit)
        if kind:
            q = q.where(Job.kind == kind)
        return list(s.exec(q).all())


def claim(engine: Engine, worker_id: str, pid: int, lease_s: float,
          kinds: Sequence[str]) -> Job | None:
    """The oldest job of `kinds` queued on this host, or running there without a live
    holder (lease run out, or its worker's pid gone); None if there is none."""
    if not kinds:
        return None
    host = this_host()
    now = db_now(engine)
    with Session(engine, expire_on_commit=False) as s:
        rows = s.exec(select(Job).where(Job.host == host).where(col(Job.kind).in_(kinds))
                      .where(col(Job.status).in_(("queued", "running")))
                      .order_by(col(Job.created_at))).all()
    for job in rows:
        if job.status == "queued" and job.cancel_requested:
            continue
        if job.status == "running":
            until = job.lease_until
            if until is not None and until.tzinfo is None:
                until = until.replace(tzinfo=now.tzinfo)
            alive = until is not None and until >= now and pid_alive(job.worker_pid)
            if alive:
                continue
        with Session(engine, expire_on_commit=False) as s:
            res = s.execute(
                update(Job).where(col(Job.id) == job.id).where(col(Job.status) == job.status)
                .where(or_(col(Job.worker_id).is_(None), col(Job.worker_id) == job.worker_id))
                .values(status="running", worker_id=worker_id, worker_pid=pid,
                        lease_until=now + timedelta(seconds=lease_s), heartbeat_at=now,
                        started_at=job.started_at or now))
            s.commit()
            if res.rowcount == 1:  # type: ignore[attr-defined]
                return s.get(Job, job.id)
    return None


def renew(engine: Engine, worker_id: str, lease_s: float, job_ids: Sequence[str]) -> set[str]:
    """Extend the leases of the jobs this worker holds; returns those it still holds."""
    if not job_ids:
        return set()
    now = db_now(engine)
    with Session(engine) as s:
        res = s.execute(update(Job).where(col(Job.id).in_(list(job_ids)))
                        .where(col(Job.worker_id) == worker_id)
                        .where(col(Job.status) == "running")
                        .values(lease_until=now + timedelta(seconds=lease_s), heartbeat_at=now)
                        .returning(col(Job.id)))
        held = {r[0] for r in res}
        s.commit()
    return held


def _held(job_id: str, holder: str | None) -> Any:
    cond = col(Job.id) == job_id
    if holder is not None:
        cond = cond & (col(Job.worker_id) == holder) & (col(Job.status) == "running")
    return cond


def progress(engine: Engine, job_id: str, holder: str | None, **values: Any) -> Job | None:
    """Write the job's progress (done, total, message, eta_s, result); returns the job as
    stored, so the caller sees a cancel or a change of settings."""
    with Session(engine, expire_on_commit=False) as s:
        if values:
            s.execute(update(Job).where(_held(job_id, holder)).values(**values))
            s.commit()
        return s.get(Job, job_id)


def append_log(engine: Engine, job_id: str, text: str) -> None:
    with Session(engine) as s:
        job = s.get(Job, job_id)
        if job is None:
            return
        log = (job.log or "") + text.rstrip("\n") + "\n"
        job.log = log[-LOG_CHARS:]
        s.add(job)
        s.commit()


def finish(engine: Engine, job_id: str, status: str, holder: str | None = None, *,
           error: str | None = None, result: dict[str, Any] | None = None) -> str | None:
    """Record the end; a cancel asked for meanwhile wins over failure, not over success (the
    work was done). None when `holder` no longer holds the job."""
    now = db_now(engine)
    with Session(engine, expire_on_commit=False) as s:
        job = s.get(Job, job_id)
        if job is None:
            return None
        if holder is not None and (job.worker_id != holder or job.status != "running"):
            return None
        if job.cancel_requested and status != "succeeded":
            status = "cancelled"
        values: dict[str, Any] = {"status": status, "error": error, "finished_at": now,
                                  "lease_until": None}
        if result is not None:
            values["result"] = result
        s.execute(update(Job).where(col(Job.id) == job_id).values(**values))
        s.commit()
    return status


def request_cancel(engine: Engine, job_id: str) -> Job | None:
    """A queued job ends at once; a running one is stopped by its worker."""
    now = db_now(engine)
    with Session(engine) as s:
        s.execute(update(Job).where(col(Job.id) == job_id).where(col(Job.status) == "queued")
                  .values(status="cancelled", cancel_requested=True, finished_at=now))
        s.execute(update(Job).where(col(Job.id) == job_id).where(col(Job.status) == "running")
                  .values(cancel_requested=True))
        s.commit()
    return get(engine, job_id)


def give_back(engine: Engine, worker_id: str, job_ids: Sequence[str]) -> None:
    """A worker stopping queues its jobs again at once (they carry on from where they are)."""
    if not job_ids:
        return
    with Session(engine) as s:
        s.execute(update(Job).where(col(Job.id).in_(list(job_ids)))
                  .where(col(Job.worker_id) == worker_id).where(col(Job.status) == "running")
                  .values(status="queued", worker_id=None, worker_pid=None, lease_until=None))
        s.commit()
    notify(engine)


def pending_here(engine: Engine, kinds: Sequence[str]) -> bool:
    """Whether this host has a job a worker should take (queued, or abandoned)."""
    with Session(engine) as s:
        rows = s.exec(select(Job).where(Job.host == this_host())
                      .where(col(Job.kind).in_(list(kinds)))
                      .where(col(Job.status).in_(("queued", "running")))).all()
    now = db_now(engine)
    for job in rows:
        if job.status == "queued" and not job.cancel_requested:
            return True
        until = job.lease_until
        if until is not None and until.tzinfo is None:
            until = until.replace(tzinfo=now.tzinfo)
        if job.status == "running" and not (until and until >= now and pid_alive(job.worker_pid)):
            return True
    return False
