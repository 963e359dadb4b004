"""The models x dimensions matrix.

Evidence per model: for each part of each benchmark family (a BFCL category, an Aider
language, a whole EvalPlus set) the newest succeeded run that covered it. A dimension's score
pools the per-task outcomes of every map row for that dimension over those parts, so a task
counts once however many benchmarks of its family ran it. Each model is then tested against
the dimension's leader: paired over the tasks both ran, unpaired when they share none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from benchdock.harnesses.choice import stats
from benchdock.harnesses.choice.estimates import Estimator, suggestions
from benchdock.harnesses.choice.evidence import ensure_evidence
from benchdock.harnesses.choice.views import (
    DimensionCell,
    DimensionComparison,
    ModelRow,
    NotMeasured,
    RunRef,
    Significance,
    Source,
    Speed,
)
from benchdock.harnesses.dimensions import DIMENSION_INFO, DIMENSIONS
from benchdock.harnesses.errors import BenchdockError
from benchdock.store import evidence as ev
from benchdock.store.evidence import EvidenceRow
from benchdock.store.models import RunSummary


@dataclass
class Evidence:
    """What the store says, ready to compare: summaries by run, chosen rows by model and
    dimension."""

    runs: dict[str, RunSummary]
    chosen: dict[str, dict[str, list[EvidenceRow]]] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)

    def pooled(self, model: str, dimension: str) -> stats.Pooled | None:
        rows = self.chosen.get(model, {}).get(dimension)
        if not rows:
            return None
        n = sum(r.n for r in rows)
        total = sum(r.total for r in rows)
        if all(r.values is None for r in rows):
            return stats.Pooled(n, total)
        return stats.Pooled(n, total, [v for r in rows for v in _values(r)])


def load(db: Engine, models: Sequence[str] | None = None) -> Evidence:
    ensure_evidence(db)
    sums = ev.summaries(db, models)  # newest first
    rows = ev.evidence_rows(db, [s.run_id for s in sums])
    by_run: dict[str, list[EvidenceRow]] = defaultdict(list)
    for r in rows:
        by_run[r.run_id].append(r)
    evidence = Evidence(runs={s.run_id: s for s in sums})
    newest: dict[tuple[str, str, str], str] = {}
    for s in sums:
        for r in by_run[s.run_id]:
            newest.setdefault((s.model, s.family, r.part), s.run_id)
    for s in sums:
        for r in by_run[s.run_id]:
            if newest[(s.model, s.family, r.part)] == s.run_id:
                evidence.chosen.setdefault(s.model, {}).setdefault(r.dimension, []).append(r)
    evidence.models = sorted({s.model for s in sums})
    return evidence


def _values(row: EvidenceRow) -> list[float]:
    if row.values is not None:
        return list(row.values)
    return [1.0 if c == "1" else 0.0 for c in row.outcomes]


def check_dimensions(dimensions: Sequence[str] | None) -> list[str]:
    if not dimensions:
        return list(DIMENSIONS)
    bad = [d for d in dimensions if d not in DIMENSION_INFO]
    if bad:
        raise BenchdockError(f"unknown dimension(s) {bad}; valid: {', '.join(DIMENSIONS)}")
    return list(dict.fromkeys(dimensions))


def compare(db: Engine, models: Sequence[str] | None = None,
            dimensions: Sequence[str] | None = None) -> DimensionComparison:
    dims = check_dimensions(dimensions)
    evidence = load(db, models)
    notes: list[str] = []
    wanted = list(dict.fromkeys(models)) if models else evidence.models
    missing = [m for m in wanted if m not in evidence.models]
    if models and len(missing) == len(wanted):
        everyone = load(db).models
        raise BenchdockError(f"no succeeded runs for {missing}; models with results: "
                             f"{', '.join(everyone) or 'none yet (run_benchmark first)'}")
    if missing:
        notes.append(f"no succeeded runs for {', '.join(missing)}: every dimension is not "
                     f"measured for {'it' if len(missing) == 1 else 'them'}")
    estimator = Estimator(list(evidence.runs.values()))
    leaders = {d: _leader(evidence, wanted, d) for d in dims}
    rows = [ModelRow(
        model=m, context_size=_context(evidence, m),
        dimensions={d: _cell(db, evidence, estimator, m, d, leaders[d]) for d in dims},
        speed=estimator.speed.get(m) or NO_SPEED)
        for m in wanted]
    used = {s.run_id for row in rows for c in row.dimensions.values() for s in c.sources}
    notes.append("Per part of each benchmark (a BFCL category, an Aider language) the newest "
                 "succeeded run counts; runs limited with limit/tasks count as they are (see n). "
                 "Significance is against each dimension's leader at p < 0.05, uncorrected.")
    return DimensionComparison(
        dimensions=dims, models=rows, leaders=leaders, notes=notes,
        runs={rid: _ref(evidence.runs[rid]) for rid in sorted(used)})


NO_SPEED = Speed(tokens_per_s=None, ttft_s=None, wall_s_per_task=None, runs=0)


def _context(evidence: Evidence, model: str) -> int | None:
    sizes = [r.context_size for r in evidence.runs.values() if r.model == model and r.context_size]
    return max(sizes) if sizes else None


def _leader(evidence: Evidence, models: Sequence[str], dimension: str) -> str | None:
    best: tuple[float, int, str] | None = None
    for m in models:
        p = evidence.pooled(m, dimension)
        if p is not None and p.n and (best is None or (p.mean, p.n) > best[:2]):
            best = (p.mean, p.n, m)
    return best[2] if best else None


def _ref(s: RunSummary) -> RunRef:
    return RunRef(run_id=s.run_id, model=s.model, benchmark=s.benchmark,
                  benchmark_version=s.benchmark_version, finished_at=s.finished_at,
                  endpoint=s.endpoint_url, settings=s.params, tasks=s.tasks)


def _cell(db: Engine, evidence: Evidence, estimator: Estimator, model: str, dimension: str,
          leader: str | None) -> DimensionCell:
    pooled = evidence.pooled(model, dimension)
    if pooled is None or pooled.n == 0:
        return DimensionCell(measured=False, not_measured=not_measured(estimator, model, dimension))
    rows = evidence.chosen[model][dimension]
    lo, hi = pooled.interval()
    return DimensionCell(
        measured=True, score=pooled.mean, ci95=[lo, hi], n=pooled.n,
        sources=_sources(evidence, rows), settings_differ=_settings_differ(evidence, rows),
        vs_leader=(significance(db, evidence, model, leader, dimension)
                   if leader and leader != model else None))


def _sources(evidence: Evidence, rows: list[EvidenceRow]) -> list[Source]:
    grouped: dict[tuple[str, str], list[EvidenceRow]] = defaultdict(list)
    for r in rows:
        grouped[(r.run_id, r.metric)].append(r)
    return [Source(run_id=rid, benchmark=evidence.runs[rid].benchmark, metric=metric,
                   parts=sorted(r.part for r in rs), n=sum(r.n for r in rs))
            for (rid, metric), rs in grouped.items()]


def _settings_differ(evidence: Evidence, rows: list[EvidenceRow]) -> str | None:
    keys = ("temperature", "top_p", "max_tokens", "n_samples")
    seen = {tuple((k, evidence.runs[r.run_id].params.get(k)) for k in keys) for r in rows}
    if len(seen) < 2:
        return None
    return "pooled runs differ in " + ", ".join(
        k for i, k in enumerate(keys) if len({s[i][1] for s in seen}) > 1)


def significance(db: Engine, evidence: Evidence, model: str, leader: str,
                 dimension: str) -> Significance | None:
    a, b = evidence.pooled(model, dimension), evidence.pooled(leader, dimension)
    if a is None or b is None:
        return None
    pairs = _pairs(db, evidence, model, leader, dimension)
    diff = a.mean - b.mean
    if pairs:
        res = stats.paired(pairs)
        sig = res.p_value < stats.ALPHA
        direction = ("worse than" if res.mean_difference < 0 else
                     "better than" if res.mean_difference > 0 else "different from")
        verdict = (f"{'significantly' if sig else 'not significantly'} {direction} {leader} "
                   f"on the {res.n_shared} shared tasks "
                   f"({res.wins} better, {res.losses} worse; sign test p = {res.p_value:.3g})")
        return Significance(against=leader, paired=True, n_shared=res.n_shared, wins=res.wins,
                            losses=res.losses, difference=diff, p_value=res.p_value,
                            significant=sig, verdict=verdict)
    p = stats.unpaired_p(a, b)
    sig = p < stats.ALPHA
    return Significance(
        against=leader, paired=False, n_shared=0, difference=diff, p_value=p, significant=sig,
        verdict=(f"unpaired comparison (no shared tasks): {'significantly' if sig else 'not significantly'}"
                 f" different from {leader} (two-sample z-test p = {p:.3g})"))


def _pairs(db: Engine, evidence: Evidence, a: str, b: str,
           dimension: str) -> list[tuple[float, float]]:
    """Per shared task, (a's outcome, b's outcome), over every part both measured."""
    rows_b = {(evidence.runs[r.run_id].family, r.part, r.metric): r
              for r in evidence.chosen[b][dimension]}
    out: list[tuple[float, float]] = []
    unaligned: list[tuple[EvidenceRow, EvidenceRow]] = []
    for ra in evidence.chosen[a][dimension]:
        rb = rows_b.get((evidence.runs[ra.run_id].family, ra.part, ra.metric))
        if rb is None:
            continue
        if ra.tasks_hash == rb.tasks_hash:
            out.extend(zip(_values(ra), _values(rb), strict=True))
        else:
            unaligned.append((ra, rb))
    if unaligned:
        ids = ev.task_ids(db, [r.id for pair in unaligned for r in pair])
        for ra, rb in unaligned:
            vb = dict(zip(ids[rb.id], _values(rb), strict=True))
            out.extend((x, vb[t]) for t, x in zip(ids[ra.id], _values(ra), strict=True)
                       if t in vb)
    return out


def not_measured(estimator: Estimator, model: str, dimension: str) -> NotMeasured:
    info = DIMENSION_INFO[dimension]
    options = suggestions(estimator, model, dimension)
    if not options:
        return NotMeasured(
            reason=f"not measured: no benchdock benchmark measures {info.title.lower()} yet",
            measured_by=None, estimate_minutes=None, elsewhere=info.elsewhere)
    best, est = options[0]
    return NotMeasured(
        reason=f"not measured: {model} has no succeeded run of a benchmark that measures it",
        measured_by=best.bench.id, limit=best.limit, tasks=best.tasks,
        estimate_minutes=round(est.minutes, 1), estimate_basis=est.basis,
        also_measured_by=[o.bench.id for o, _ in options[1:6]], elsewhere=info.elsewhere)
