"""The work queue shared by workers on several machines: claims with a lease, endpoint slots.

A queued run is claimed by one worker with `SELECT ... FOR UPDATE SKIP LOCKED` (PostgreSQL;
SQLite, one worker per machine, takes the same path without the row lock, under the worker's
fcntl lock: its claims are made by one thread, and the conditional UPDATE still lets only one
claimant win). The claim carries a lease (`run.lease_until`, on the database's clock, so the
machines' clocks need not agree) that the worker renews; a run whose lease ran out is
claimable again, and the worker that lost it stops it at its next renewal. A sample's
verdict is written only while it has none (`queries.save_verdict`), so a taken-over run
scores each sample once, and every write a worker makes into a run is fenced by its claim
(`queries`: `holder`), so a worker that lost its lease cannot finish or score a run another
worker now holds.

Why not procrastinate or pgqueuer: the run row already is the job (status, progress,
cancellation, the heartbeat the tools show), and SQLite must keep working with the same
code; a queue library would add a second job table to keep in step with it, its own worker
loop, and PostgreSQL-only behaviour. What benchdock needs of a queue is one locked UPDATE.

Endpoint capacity is respected across all workers: each endpoint has a row in
`endpoint_slots` (its declared request slots, whether it swaps models), locked while a run on
it is claimed; a run holds `min(concurrency, slots)` slots while its lease lives. An endpoint
without declared slots serves one run at a time; one that swaps models serves runs of one
model at a time: declared so by its workers' configuration (`swaps`), or found so by
discovery when the run was queued (its `params["swapping"]`: llama-swap, ollama, Lemonade).

SQLite differs in two things only, both because its store belongs to one machine: its worker
serves every run queued there, whatever the endpoint (`claim(endpoints=None)`: a CLI or
server with another configuration may have queued it), and a run whose worker process is
gone (a pid on this host that no longer exists) is taken over at once rather than after its
lease: the pid check the store made before leases.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from benchdock.store.db import is_postgres
from benchdock.store.doorbell import ring
from benchdock.store.tables import EndpointSlots, Run, Worker, utcnow

CHANNEL = "benchdock_queue"  # LISTEN/NOTIFY: a run was queued or slots were freed


def db_now(engine: Engine) -> datetime:
    """The database's clock (PostgreSQL: shared by every machine), or this machine's."""
    if not is_postgres(engine):
        return utcnow()
    with engine.connect() as conn:
        now: datetime = conn.execute(text("SELECT now()")).scalar_one()
    return now


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def register_worker(engine: Engine, worker_id: str, home: str, endpoints: Sequence[Any],
                    max_runs: int, lease_s: float) -> None:
    """Record the worker and declare its endpoints' slots (the last declaration stands)."""
    now = db_now(engine)
    with Session(engine) as s:
        # housekeeping: workers silent for a week are forgotten
        s.execute(delete(Worker).where(col(Worker.heartbeat_at) < now - timedelta(days=7)))
        s.add(Worker(id=worker_id, host=socket.gethostname(), pid=os.getpid(), home=home,
                     endpoints=[e.url for e in endpoints], max_runs=max_runs, lease_s=lease_s,
                     started_at=now, heartbeat_at=now))
        s.commit()
        insert = pg_insert if is_postgres(engine) else sqlite_insert
        for e in endpoints:
            values = {"slots": e.concurrency, "swaps": bool(getattr(e, "swaps", False)),
                      "declared_by": worker_id, "declared_at": now}
            stmt = insert(EndpointSlots).values(url=e.url, **values)
            s.execute(stmt.on_conflict_do_update(index_elements=["url"], set_=values))
        s.commit()


def stop_worker(engine: Engine, worker_id: str) -> None:
    """A worker leaving cleanly: it holds nothing more (its runs ended or were released)."""
    with Session(engine) as s:
        s.execute(update(Worker).where(col(Worker.id) == worker_id)
                  .values(stopped_at=db_now(engine)))
        s.commit()


def renew(engine: Engine, worker_id: str, lease_s: float, run_ids: Sequence[str]) -> set[str]:
    """Extend the worker's lease and its runs' leases; returns the runs it still holds. A run
    missing from the answer was taken over (its lease had run out): the worker must stop it."""
    now = db_now(engine)
    until = now + timedelta(seconds=lease_s)
    with Session(engine) as s:
        s.execute(update(Worker).where(col(Worker.id) == worker_id).values(heartbeat_at=now))
        held = set()
        if run_ids:
            res = s.execute(
                update(Run)
                .where(col(Run.id).in_(list(run_ids)))
                .where(col(Run.worker_id) == worker_id)
                .where(col(Run.status) == "running")
                .where(col(Run.lease_until) >= now)
                .values(lease_until=until)
                .returning(col(Run.id))
            )
            held = {r[0] for r in res}
        s.commit()
    return held


def _claimable(now: datetime, stale: datetime) -> ColumnElement[bool]:
    """Queued, or running without a live holder. A run whose cancel was asked for while its
    worker died is claimable too: its new holder ends it `cancelled` at once (else it would
    stay `running` for ever)."""
    running_unheld = (col(Run.status) == "running") & or_(
        col(Run.lease_until) < now,
        # a run claimed by a release before leases: its heartbeat tells
        col(Run.lease_until).is_(None) & or_(col(Run.heartbeat_at).is_(None),
                                             col(Run.heartbeat_at) < stale))
    return or_((col(Run.status) == "queued") & ~col(Run.cancel_requested), running_unheld)


def _fits(s: Session, run: Run, now: datetime) -> int | None:
    """The slots `run` would hold on its endpoint now, or None when it must wait. Locks the
    endpoint's row: claims on one endpoint are decided one after another."""
    ep = s.execute(select(EndpointSlots).where(col(EndpointSlots.url) == run.endpoint_url)
                   .with_for_update()).scalar_one_or_none()
    holders = s.execute(
        select(col(Run.model), col(Run.slots))
        .where(col(Run.endpoint_url) == run.endpoint_url)
        .where(col(Run.status) == "running")
        .where(col(Run.lease_until) >= now)
        .where(col(Run.id) != run.id)
    ).all()
    slots = ep.slots if ep is not None else None
    # a server that swaps models: as configured, or as discovery found it when the run was
    # queued (llama-swap, ollama, Lemonade: `params["swapping"]`)
    swaps = (ep is not None and ep.swaps) or bool((run.params or {}).get("swapping"))
    if swaps and any(m != run.model for m, _ in holders):
        return None  # another model is loaded there: never alternate request by request
    if slots is None:
        return None if holders else max(1, run.concurrency)
    need = max(1, min(run.concurrency, slots))
    used = sum(n or 1 for _, n in holders)
    return need if used + need <= slots else None


def _expire_dead_holders(engine: Engine, worker_id: str) -> None:
    """SQLite: end the lease of every run held by a process of this host that is gone (a
    worker killed with SIGKILL), so the next worker takes it over at once and its slots are
    free. A reused pid only delays the takeover to the lease's end."""
    host = socket.gethostname() + ":"
    with Session(engine) as s:
        held = s.execute(select(col(Run.id), col(Run.worker_id), col(Run.worker_pid))
                         .where(col(Run.status) == "running")).all()
        dead = [rid for rid, wid, pid in held
                if wid != worker_id and (wid is None or wid.startswith(host))
                and not pid_alive(pid)]
        if dead:
            s.execute(update(Run).where(col(Run.id).in_(dead)).where(col(Run.status) == "running")
                      .values(lease_until=utcnow() - timedelta(seconds=1), slots=None))
            s.commit()


def claim(engine: Engine, worker_id: str, endpoints: Sequence[str] | None, lease_s: float,
          stale_after_s: float = 30.0) -> Run | None:
    """Claim the oldest run this worker may serve (its endpoint among `endpoints`, or any
    endpoint when None: SQLite, one machine; a slot free there), queued or abandoned by a
    worker whose lease ran out; None if there is none."""
    if endpoints is not None and not endpoints:
        return None
    pg = is_postgres(engine)
    if not pg:
        _expire_dead_holders(engine, worker_id)
    skipped: list[str] = []
    while True:
        now = db_now(engine)
        with Session(engine, expire_on_commit=False) as s:
            q = (select(Run).where(_claimable(now, now - timedelta(seconds=stale_after_s)))
                 .where(col(Run.id).not_in(skipped))
                 .order_by(col(Run.created_at)).limit(1))
            if endpoints is not None:
                q = q.where(col(Run.endpoint_url).in_(list(endpoints)))
            if pg:
                q = q.with_for_update(skip_locked=True, of=Run)
            run: Run | None = s.execute(q).scalar_one_or_none()
            if run is None:
                return None
            need = _fits(s, run, now)
            if need is None:
                s.rollback()
                skipped.append(run.id)
                continue
            res = s.execute(
                update(Run).where(col(Run.id) == run.id).where(col(Run.status) == run.status)
                .where(or_(col(Run.worker_id).is_(None), col(Run.worker_id) == run.worker_id))
                .values(status="running", worker_id=worker_id, worker_pid=os.getpid(),
                        lease_until=now + timedelta(seconds=lease_s), slots=need,
                        concurrency=need,  # what it may send at once: its slots
                        heartbeat_at=now, started_at=func.coalesce(col(Run.started_at), now)))
            s.commit()
            if res.rowcount == 1:  # type: ignore[attr-defined]
                s.refresh(run)
                return run
            skipped.append(run.id)  # SQLite: another claimant won the race


def release(engine: Engine, worker_id: str, run_id: str) -> None:
    """The run is no longer this worker's (finished, or left for another): free its slots."""
    with Session(engine) as s:
        s.execute(update(Run).where(col(Run.id) == run_id).where(col(Run.worker_id) == worker_id)
                  .values(lease_until=None, slots=None))
        s.commit()
    notify(engine)


def give_back(engine: Engine, worker_id: str, run_ids: Sequence[str]) -> None:
    """A worker stopping (SIGTERM, Ctrl-C) queues the runs it held again at once, rather than
    leaving them to wait out their lease; their scored samples stay. A run whose cancel was
    asked for ends cancelled instead (queued, it would never be claimed)."""
    if not run_ids:
        return
    flagged = col(Run.cancel_requested)
    with Session(engine) as s:
        s.execute(update(Run).where(col(Run.id).in_(list(run_ids)))
                  .where(col(Run.worker_id) == worker_id).where(col(Run.status) == "running")
                  .values(status=case((flagged, "cancelled"), else_="queued"),
                          finished_at=case((flagged, func.now()), else_=None),
                          worker_id=None, worker_pid=None, lease_until=None, slots=None))
        s.commit()
    notify(engine)


def notify(engine: Engine) -> None:
    """Wake the workers: NOTIFY on PostgreSQL; on SQLite, the byte its worker's doorbell
    waits for (store/doorbell.py). A run queued, resumed, cancelled or ended rings."""
    if is_postgres(engine):
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_notify(:c, '')"), {"c": CHANNEL})
    else:
        ring(engine)


def workers(engine: Engine, include_stopped: bool = False) -> list[tuple[Worker, bool, list[Run]]]:
    """Every registered worker, whether it is alive (lease not run out, not stopped), and the
    runs it holds."""
    now = db_now(engine)
    with Session(engine, expire_on_commit=False) as s:
        q = select(Worker).order_by(col(Worker.started_at).desc())
        if not include_stopped:
            q = q.where(col(Worker.stopped_at).is_(None))
        rows = list(s.execute(q).scalars())
        held = list(s.execute(select(Run).where(col(Run.status) == "running")
                              .where(col(Run.worker_id).is_not(None))).scalars())
    out = []
    for w in rows:
        alive = w.stopped_at is None and _aware(w.heartbeat_at) + timedelta(
            seconds=w.lease_s) >= _aware(now)
        out.append((w, alive, [r for r in held if r.worker_id == w.id]))
    return out


def _aware(t: datetime) -> datetime:
    from datetime import UTC

    return t if t.tzinfo else t.replace(tzinfo=UTC)
