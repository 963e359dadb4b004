"""Named read queries for browsing the store (the viewer): runs with their progress, a run's
samples filtered and searched, and several runs' outcomes side by side.

Each is one or two statements whatever the store's size, so a page costs the same on a store
of a thousand runs of a thousand samples as on a small one: progress is counted for the
runs on the page only (grouped, not one count per run), and sample lists read the light
columns only (an agent's trajectory or a patch can be megabytes; only the sample page reads
them).

Search is a case-insensitive substring match (LIKE/ILIKE) over one run's answers, reasoning,
extracted code, verdict detail and evidence (the `extra` JSON as text, which holds test
output and trajectories). A run holds at most a few thousand samples, so a scan of one
run's rows is fast on SQLite and PostgreSQL alike and needs no full-text index to keep in
step with the writers.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import load_only
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from benchdock.store.tables import Run, Sample

PENDING = "pending"  # the filter value for samples not scored yet
SORTS = ("seq", "latency", "-latency", "tokens", "-tokens", "exec", "-exec", "ttft", "-ttft")


LISTED: tuple[Any, ...] = (Run.id, Run.model, Run.benchmark, Run.status, Run.cancel_requested, Run.total,
          Run.created_at, Run.started_at, Run.finished_at)


@dataclass(frozen=True)
class RunLine:
    """A run and how many of its samples are scored."""

    run: Run
    done: int


def runs_page(engine: Engine, *, status: str | None = None, model: str | None = None,
              benchmark: str | None = None, offset: int = 0,
              limit: int = 50) -> tuple[list[RunLine], int]:
    """Runs newest first, filtered, one page of them with their scored counts; and how
    many runs match."""
    with Session(engine, expire_on_commit=False) as s:
        # without the task list and settings (a thousand task ids a run): a list needs none
        q = select(Run).options(load_only(*LISTED))
        cq = select(func.count()).select_from(Run)
        for column, value in ((Run.status, status), (Run.model, model),
                              (Run.benchmark, benchmark)):
            if value:
                q, cq = q.where(column == value), cq.where(column == value)
        runs = list(s.exec(q.order_by(col(Run.created_at).desc(), col(Run.id))
                           .offset(offset).limit(limit)).all())
        total = int(s.exec(cq).one())
        done = scored_counts(s, [r.id for r in runs])
    return [RunLine(r, done.get(r.id, 0)) for r in runs], total


def scored_counts(s: Session, run_ids: Sequence[str]) -> dict[str, int]:
    if not run_ids:
        return {}
    rows = s.exec(select(Sample.run_id, func.count())
                  .where(col(Sample.run_id).in_(run_ids))
                  .where(col(Sample.verdict).is_not(None))
                  .group_by(col(Sample.run_id))).all()
    return {rid: int(n) for rid, n in rows}


def run_facets(engine: Engine) -> tuple[list[str], list[str]]:
    """The models and the benchmarks that have runs, sorted: the runs page's filter lists."""
    with Session(engine) as s:
        models = s.exec(select(Run.model).distinct().order_by(col(Run.model))).all()
        benches = s.exec(select(Run.benchmark).distinct().order_by(col(Run.benchmark))).all()
    return list(models), list(benches)


def models_on(engine: Engine, benchmark: str, status: str | None = None) -> list[str]:
    """The models with a run on `benchmark` (with this status, if given), sorted."""
    with Session(engine) as s:
        q = select(Run.model).distinct().where(Run.benchmark == benchmark)
        if status:
            q = q.where(Run.status == status)
        return list(s.exec(q.order_by(col(Run.model))).all())


def run_counts(engine: Engine, models: Collection[str]) -> dict[str, dict[str, int]]:
    """benchmark -> model -> how many runs of it there, for these models."""
    out: dict[str, dict[str, int]] = {}
    with Session(engine) as s:
        rows = s.exec(select(Run.benchmark, Run.model, func.count())
                      .where(col(Run.model).in_(list(models)))
                      .group_by(col(Run.benchmark), col(Run.model))).all()
    for bench, model, n in rows:
        out.setdefault(bench, {})[model] = int(n)
    return out


def runs_of(engine: Engine, models: Collection[str] | None = None,
            benchmark: str | None = None) -> list[Run]:
    """Runs of these models (all when None), on `benchmark` (all when None), newest first."""
    with Session(engine, expire_on_commit=False) as s:
        q = select(Run)
        if models:
            q = q.where(col(Run.model).in_(list(models)))
        if benchmark:
            q = q.where(Run.benchmark == benchmark)
        return list(s.exec(q.order_by(col(Run.created_at).desc())).all())


def verdict_counts(engine: Engine, run_id: str) -> dict[str, int]:
    """Samples per verdict (`pending` for those not scored yet)."""
    with Session(engine) as s:
        rows = s.exec(select(Sample.verdict, func.count()).where(Sample.run_id == run_id)
                      .group_by(col(Sample.verdict))).all()
    return {(v or PENDING): int(n) for v, n in rows}


@dataclass(frozen=True)
class SampleFilter:
    """What the samples page can filter on. `task_ids` narrows to a set of tasks (a part of
    the benchmark); `text` searches the evidence, and `text_tasks` adds tasks whose prompt
    matched it (prompts live in the benchmark's dataset, not in the store)."""

    verdict: str | None = None
    task: str | None = None  # substring of the task id
    task_ids: Collection[str] | None = None
    text: str | None = None
    text_tasks: Collection[str] = ()
    min_latency: float | None = None
    max_latency: float | None = None
    min_tokens: int | None = None
    max_tokens: int | None = None
    min_exec: float | None = None
    max_exec: float | None = None
    sort: str = "seq"


@dataclass(frozen=True)
class SampleLine:
    """A sample without its long texts: what a list of samples shows."""

    task_id: str
    sample_index: int
    verdict: str
    base_verdict: str | None
    plus_verdict: str | None
    detail: str | None
    latency_s: float | None
    ttft_s: float | None
    completion_tokens: int | None
    exec_s: float | None
    truncated: bool
    cached: bool
    finish_reason: str | None


DETAIL_CHARS = 240  # of a verdict's detail, in a list


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(f: SampleFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if f.verdict == PENDING:
        out.append(col(Sample.verdict).is_(None))
    elif f.verdict:
        out.append(col(Sample.verdict) == f.verdict)
    if f.task:
        out.append(col(Sample.task_id).ilike(_like(f.task), escape="\\"))
    if f.task_ids is not None:
        out.append(col(Sample.task_id).in_(list(f.task_ids)))
    if f.text:
        pat = _like(f.text)
        fields: list[Any] = [Sample.completion, Sample.reasoning, Sample.code, Sample.detail]
        found: list[ColumnElement[bool]] = [col(c).ilike(pat, escape="\\") for c in fields]
        found.append(cast(col(Sample.extra), Text).ilike(pat, escape="\\"))
        if f.text_tasks:
            found.append(col(Sample.task_id).in_(list(f.text_tasks)))
        out.append(or_(*found))
    for column, low, high in ((Sample.latency_s, f.min_latency, f.max_latency),
                              (Sample.completion_tokens, f.min_tokens, f.max_tokens),
                              (Sample.exec_s, f.min_exec, f.max_exec)):
        if low is not None:
            out.append(col(column) >= low)
        if high is not None:
            out.append(col(column) <= high)
    return out


_SORT_COLUMNS: dict[str, Any] = {"latency": Sample.latency_s, "tokens": Sample.completion_tokens,
                                 "exec": Sample.exec_s, "ttft": Sample.ttft_s}


def _order(sort: str) -> list[Any]:
    key = sort.lstrip("-")
    if key not in _SORT_COLUMNS:
        return [col(Sample.seq)]
    column = col(_SORT_COLUMNS[key])
    # samples without the figure (not generated yet) go last either way
    return [column.is_(None), column.desc() if sort.startswith("-") else column.asc(),
            col(Sample.seq)]


def samples_page(engine: Engine, run_id: str, f: SampleFilter, offset: int = 0,
                 limit: int = 50) -> tuple[list[SampleLine], int]:
    """One page of a run's samples that pass the filter, and how many do."""
    conds = [col(Sample.run_id) == run_id, *_conditions(f)]
    with Session(engine) as s:
        columns: list[Any] = [
            Sample.task_id, Sample.sample_index, Sample.verdict, Sample.base_verdict,
            Sample.plus_verdict, func.substr(col(Sample.detail), 1, DETAIL_CHARS),
            Sample.latency_s, Sample.ttft_s, Sample.completion_tokens, Sample.exec_s,
            Sample.truncated, Sample.cached, Sample.finish_reason]
        rows = s.execute(sa_select(*columns).where(*conds).order_by(*_order(f.sort))
                         .offset(offset).limit(limit)).all()
        total = int(s.exec(select(func.count()).select_from(Sample).where(*conds)).one())
    lines = [SampleLine(task_id=r[0], sample_index=r[1], verdict=r[2] or PENDING,
                        base_verdict=r[3], plus_verdict=r[4], detail=r[5], latency_s=r[6],
                        ttft_s=r[7], completion_tokens=r[8], exec_s=r[9], truncated=bool(r[10]),
                        cached=bool(r[11]), finish_reason=r[12]) for r in rows]
    return lines, total


def task_samples(engine: Engine, run_id: str, task_id: str) -> list[Sample]:
    """Every sample of one task of a run, whole (answers, evidence), by sample index."""
    with Session(engine, expire_on_commit=False) as s:
        return list(s.exec(select(Sample).where(Sample.run_id == run_id)
                           .where(Sample.task_id == task_id)
                           .order_by(col(Sample.sample_index))).all())


def outcomes(engine: Engine, run_ids: Sequence[str]) -> dict[str, dict[str, list[str]]]:
    """run -> task -> its samples' verdicts (`pending` where not scored), in one query."""
    out: dict[str, dict[str, list[str]]] = {r: {} for r in run_ids}
    if not run_ids:
        return out
    with Session(engine) as s:
        rows = s.exec(select(Sample.run_id, Sample.task_id, Sample.verdict)
                      .where(col(Sample.run_id).in_(list(run_ids)))
                      .order_by(col(Sample.run_id), col(Sample.seq))).all()
    for rid, tid, verdict in rows:
        out[rid].setdefault(tid, []).append(verdict or PENDING)
    return out


def store_mark(engine: Engine) -> tuple[int, datetime | None]:
    """A cheap fingerprint of the finished runs (count, newest end): what a cached chart of
    the comparison depends on."""
    with Session(engine) as s:
        n, last = s.exec(select(func.count(), func.max(col(Run.finished_at)))
                         .where(Run.status == "succeeded")).one()
    return int(n), last
