"""Named queries over the store. Every write commits at once: a sample's generation and its
verdict are durable the moment they exist, so a killed worker loses no finished work.

A worker's writes into a run are fenced by its claim: given `holder` (the worker id the run
was claimed by), a heartbeat, a sample's generation or verdict and the run's finish are
written only while the run is still that worker's. A worker whose lease ran out and whose
run another worker took over (it stalled, or was cut off from the database) writes nothing
more into it, whatever it was doing when it lost the lease."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, exists, func, true, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from benchdock.store.queue import notify
from benchdock.store.tables import FINAL_STATUSES, Generation, Run, Sample, utcnow


def add_run(engine: Engine, run: Run) -> Run:
    with Session(engine, expire_on_commit=False) as s:
        s.add(run)
        s.commit()
    notify(engine)  # idle workers on other machines wake for it
    return run


def get_run(engine: Engine, run_id: str) -> Run | None:
    with Session(engine, expire_on_commit=False) as s:
        return s.get(Run, run_id)


def recent_run_ids(engine: Engine, limit: int = 10) -> list[str]:
    with Session(engine) as s:
        rows = s.exec(select(Run.id).order_by(col(Run.created_at).desc()).limit(limit)).all()
        return list(rows)


def list_runs(engine: Engine, limit: int = 50, status: str | None = None) -> list[Run]:
    with Session(engine, expire_on_commit=False) as s:
        q = select(Run).order_by(col(Run.created_at).desc()).limit(limit)
        if status:
            q = q.where(Run.status == status)
        return list(s.exec(q).all())


def _held_by(holder: str | None) -> ColumnElement[bool]:
    """The run is still running under `holder`'s claim (no fence when `holder` is None)."""
    if holder is None:
        return true()
    return (col(Run.worker_id) == holder) & (col(Run.status) == "running")


def heartbeat(engine: Engine, run_id: str, holder: str | None = None,
              **values: Any) -> Run | None:
    """Beat the run's heartbeat and write `values`; with `holder`, only while the run is
    still that worker's. Returns the run as stored (its holder says whether it was)."""
    with Session(engine, expire_on_commit=False) as s:
        s.execute(update(Run).where(col(Run.id) == run_id).where(_held_by(holder))
                  .values(heartbeat_at=utcnow(), **values))
        s.commit()
        run = s.get(Run, run_id)
    if values.get("status") == "queued":
        notify(engine)  # a resumed run is queued again
    return run


def finish_run(
    engine: Engine, run_id: str, status: str, *, error: str | None = None,
    metrics: dict[str, Any] | None = None, holder: str | None = None,
) -> str | None:
    """Record the run's end; returns the status recorded, None when `holder` no longer holds
    the run (it was taken over, or already ended): then nothing is written.

    A cancel asked for before the end wins: the run ends `cancelled`, as the client that
    asked was told, even when its work was complete (resume_run makes it `succeeded`). One
    UPDATE decides it, so a cancel racing the end is seen either before or after, never half.
    """
    assert status in FINAL_STATUSES
    final = case((col(Run.cancel_requested), "cancelled"), else_=status)
    values: dict[str, Any] = {"status": final, "finished_at": utcnow(), "error": error}
    if metrics is not None:
        values["metrics"] = metrics
    with Session(engine) as s:
        got = s.execute(update(Run).where(col(Run.id) == run_id).where(_held_by(holder))
                        .values(**values).returning(col(Run.status))).scalar_one_or_none()
        s.commit()
    return got


def request_cancel(engine: Engine, run_id: str, reason: str | None = None) -> Run | None:
    """Flag a run for cancellation; a queued run is cancelled on the spot. A `reason` is
    kept in the run's params as `cancel_reason` (get_run shows it).

    A run that has ended is left as it is (never flagged: `finish_run` turns a flagged run's
    end into `cancelled`, so a flag on an ended run would contradict its status). Both updates
    are one transaction, conditional on the status as the database has it then, so a cancel
    racing a worker's claim or finish lands wholly before or after it."""
    with Session(engine) as s:
        values: dict[str, Any] = {"cancel_requested": True}
        if reason is not None:
            params = s.execute(select(Run.params).where(col(Run.id) == run_id)).scalar()
            values["params"] = {**(params or {}), "cancel_reason": reason}
        s.execute(update(Run).where(col(Run.id) == run_id)
                  .where(col(Run.status).not_in(FINAL_STATUSES)).values(**values))
        s.execute(
            update(Run)
            .where(col(Run.id) == run_id)
            .where(col(Run.status) == "queued")
            .values(status="cancelled", finished_at=utcnow())
        )
        s.commit()
    notify(engine)  # the worker holding it stops it now, not at its next look
    return get_run(engine, run_id)


def requeue(engine: Engine, run_id: str) -> bool:
    """Queue a failed or cancelled run again (resume_run); False when it is neither by now.
    Conditional on its status in the one UPDATE, so two clients resuming a run at once queue
    it once, and a resume never re-queues a run a worker has claimed meanwhile."""
    with Session(engine) as s:
        res = s.execute(
            update(Run).where(col(Run.id) == run_id)
            .where(col(Run.status).in_(("failed", "cancelled")))
            .values(status="queued", cancel_requested=False, error=None, finished_at=None,
                    worker_pid=None, worker_id=None, lease_until=None, slots=None,
                    heartbeat_at=utcnow()))
        s.commit()
    if res.rowcount:  # type: ignore[attr-defined]
        notify(engine)
    return bool(res.rowcount)  # type: ignore[attr-defined]


def ensure_samples(engine: Engine, run_id: str, task_ids: Sequence[str], n_samples: int) -> int:
    """Create the sample rows a run needs, skipping those that exist; returns the count."""
    with Session(engine) as s:
        have = set(
            s.exec(
                select(Sample.task_id, Sample.sample_index).where(Sample.run_id == run_id)
            ).all()
        )
        seq = 0
        for tid in task_ids:
            for k in range(n_samples):
                if (tid, k) not in have:
                    s.add(Sample(run_id=run_id, task_id=tid, sample_index=k, seq=seq))
                seq += 1
        try:
            s.commit()
        except IntegrityError:  # another claimant made them first: theirs stand
            s.rollback()
        return len(task_ids) * n_samples


def unscored_samples(engine: Engine, run_id: str) -> list[Sample]:
    with Session(engine, expire_on_commit=False) as s:
        return list(
            s.exec(
                select(Sample)
                .where(Sample.run_id == run_id)
                .where(col(Sample.verdict).is_(None))
                .order_by(col(Sample.seq))
            ).all()
        )


def _sample_held_by(holder: str | None) -> ColumnElement[bool]:
    """The sample's run is still running under `holder`'s claim (None: no fence)."""
    if holder is None:
        return true()
    return exists().where(col(Run.id) == col(Sample.run_id)).where(_held_by(holder))


def save_generation(engine: Engine, sample_id: int, holder: str | None = None,
                    **values: Any) -> bool:
    """Store a sample's answer; False when `holder` no longer holds its run (not written)."""
    with Session(engine) as s:
        res = s.execute(
            update(Sample).where(col(Sample.id) == sample_id).where(_sample_held_by(holder))
            .values(generated_at=utcnow(), **values)
        )
        s.commit()
    return bool(res.rowcount)  # type: ignore[attr-defined]


def save_verdict(engine: Engine, sample_id: int, holder: str | None = None,
                 **values: Any) -> bool:
    """Store a sample's verdict unless it has one (a verdict is never overwritten) or
    `holder` no longer holds its run; returns whether it was written."""
    with Session(engine) as s:
        res = s.execute(
            update(Sample)
            .where(col(Sample.id) == sample_id)
            .where(col(Sample.verdict).is_(None))
            .where(_sample_held_by(holder))
            .values(scored_at=utcnow(), **values)
        )
        s.commit()
    return bool(res.rowcount)  # type: ignore[attr-defined]


def count_scored(engine: Engine, run_id: str) -> int:
    with Session(engine) as s:
        n = s.exec(
            select(func.count())
            .select_from(Sample)
            .where(Sample.run_id == run_id)
            .where(col(Sample.verdict).is_not(None))
        ).one()
        return int(n)


def all_samples(engine: Engine, run_id: str) -> list[Sample]:
    with Session(engine, expire_on_commit=False) as s:
        return list(
            s.exec(select(Sample).where(Sample.run_id == run_id).order_by(col(Sample.seq))).all()
        )


def samples_page(
    engine: Engine, run_id: str, offset: int, limit: int, verdict: str | None = None
) -> tuple[list[Sample], int]:
    with Session(engine, expire_on_commit=False) as s:
        q = select(Sample).where(Sample.run_id == run_id)
        cq = select(func.count()).select_from(Sample).where(Sample.run_id == run_id)
        if verdict:
            q = q.where(Sample.verdict == verdict)
            cq = cq.where(Sample.verdict == verdict)
        rows = s.exec(q.order_by(col(Sample.seq)).offset(offset).limit(limit)).all()
        return list(rows), int(s.exec(cq).one())


def cache_get(engine: Engine, key: str) -> Generation | None:
    with Session(engine, expire_on_commit=False) as s:
        return s.get(Generation, key)


def cache_put(engine: Engine, gen: Generation) -> None:
    with Session(engine) as s:
        if s.get(Generation, gen.key) is None:
            s.add(gen)
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
