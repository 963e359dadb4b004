"""Named queries over the evidence tables (`RunSummary`, `DimensionEvidence`).

The comparison reads only these small rows — never the samples — so it stays fast on a store
with millions of samples; the per-task id lists are loaded only for the rare pair of runs
that covered different task lists.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Text, any_, bindparam, cast, delete, func
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from benchdock.store.db import is_postgres
from benchdock.store.tables import DimensionEvidence, Run, RunSummary


@dataclass(frozen=True)
class EvidenceRow:
    """A `DimensionEvidence` row without its task ids (see `task_ids`)."""

    id: int
    run_id: str
    dimension: str
    metric: str
    part: str
    n: int
    total: float
    outcomes: str
    values: list[float] | None
    tasks_hash: str


def save_evidence(engine: Engine, summary: RunSummary, rows: Sequence[DimensionEvidence]) -> None:
    """Replace a run's evidence in one transaction. The worker (when the run ends) and a
    server (backfilling) may both do it at once: if the other commits first, its rows stand."""
    with Session(engine) as s:
        s.execute(delete(DimensionEvidence).where(col(DimensionEvidence.run_id) == summary.run_id))
        s.execute(delete(RunSummary).where(col(RunSummary.run_id) == summary.run_id))
        s.add(summary)
        s.add_all(rows)
        try:
            s.commit()
        except IntegrityError:
            s.rollback()


def runs_needing_evidence(engine: Engine, version: int) -> list[str]:
    """Succeeded runs with no summary, or one made by an older evidence format."""
    with Session(engine) as s:
        rows = s.exec(
            select(Run.id, RunSummary.version)
            .join(RunSummary, col(RunSummary.run_id) == col(Run.id), isouter=True)
            .where(Run.status == "succeeded")
        ).all()
    return [rid for rid, v in rows if v is None or v < version]


@dataclass(frozen=True)
class SummaryRow:
    """A `RunSummary` as a plain record: the comparison reads thousands of them."""

    run_id: str
    version: int
    model: str
    benchmark: str
    family: str
    benchmark_version: str
    endpoint_url: str
    params: dict[str, Any]
    context_size: int | None
    finished_at: datetime | None
    tasks: int
    concurrency: int
    wall_s: float | None
    fresh: int
    generated_tokens: int
    decode_s: float
    ttft_sum: float
    ttft_n: int


def summaries(engine: Engine, models: Sequence[str] | None = None) -> list[SummaryRow]:
    """Summaries of succeeded runs, newest first."""
    t = RunSummary.__table__.c  # type: ignore[attr-defined]
    r = Run.__table__.c  # type: ignore[attr-defined]
    q = (sa_select(*(t[f.name] for f in fields(SummaryRow)))
         .join(Run.__table__, r.id == t.run_id)  # type: ignore[attr-defined]
         .where(r.status == "succeeded").order_by(t.finished_at.desc()))
    if models:
        q = q.where(t.model.in_(list(models)))
    with engine.connect() as conn:
        return [SummaryRow(**row._mapping) for row in conn.execute(q).all()]


def evidence_rows(engine: Engine, run_ids: Sequence[str]) -> list[EvidenceRow]:
    if not run_ids:
        return []
    t = DimensionEvidence.__table__.c  # type: ignore[attr-defined]
    # `values` as text, SQL NULL for JSON null: only the rare rows that have per-task means
    # are decoded (the driver would decode every row's `null`)
    values = func.nullif(cast(t["values"], Text), "null")
    cols = (t.id, t.run_id, t.dimension, t.metric, t.part, t.n, t.total, t.outcomes, values,
            t.tasks_hash)  # in EvidenceRow's order
    out: list[EvidenceRow] = []
    with engine.connect() as conn:
        for chunk in _chunks(engine, list(run_ids)):
            for r in conn.execute(sa_select(*cols).where(_among(engine, t.run_id, chunk))).all():
                v = r[8]
                out.append(EvidenceRow(*r[:8], json.loads(v) if v is not None else None, r[9]))
    return out


def _chunks(engine: Engine, ids: list[Any]) -> list[list[Any]]:
    """SQLite: under its bound-parameter limit; PostgreSQL: all at once, as one array (each
    query is a round trip to a server that may be on another machine)."""
    if is_postgres(engine):
        return [ids]
    return [ids[i:i + 500] for i in range(0, len(ids), 500)]


def _among(engine: Engine, column: Any, ids: list[Any]) -> ColumnElement[bool]:
    """`column IN ids`; on PostgreSQL `column = ANY(array)`: one parameter, not thousands."""
    if is_postgres(engine):
        return column == any_(bindparam(None, ids, type_=ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(ids)  # type: ignore[no-any-return]


def task_ids(engine: Engine, evidence_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    t = DimensionEvidence.__table__.c  # type: ignore[attr-defined]
    with engine.connect() as conn:
        for chunk in _chunks(engine, list(evidence_ids)):
            rows = conn.execute(sa_select(t.id, t.task_ids).where(_among(engine, t.id, chunk)))
            out.update({int(k or 0): (ids.split("\n") if ids else []) for k, ids in rows.all()})
    return out


def reliability(engine: Engine, run_ids: Sequence[str]) -> dict[str, tuple[int, int, float]]:
    """run id -> (requests, failed requests, seconds lost to them), from each run's timing
    (runs recorded before these figures existed count as without failures)."""
    if not run_ids:
        return {}
    r = Run.__table__.c  # type: ignore[attr-defined]
    out: dict[str, tuple[int, int, float]] = {}
    with engine.connect() as conn:
        for chunk in _chunks(engine, list(run_ids)):
            for rid, metrics in conn.execute(sa_select(r.id, r.metrics)
                                             .where(_among(engine, r.id, chunk))).all():
                timing = (metrics or {}).get("timing") or {}
                out[rid] = (int(timing.get("requests") or 0),
                            int(timing.get("failed_requests") or 0),
                            float(timing.get("retry_lost_s") or 0.0))
    return out
