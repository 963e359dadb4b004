"""The models x dimensions matrix.

Evidence per model: for each part of each benchmark family (a BFCL category, an Aider
language, a whole EvalPlus set) the succeeded run that scored the most tasks there, the
newest on ties. A dimension's score
pools the per-task outcomes of every map row for that dimension over those parts, so a task
counts once however many benchmarks of its family ran it. Each model is then tested against
the dimension's leader: paired over the tasks both ran, unpaired when they share none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from benchdock.harnesses.choice import stats
from benchdock.harnesses.choice.advice import Ready
from benchdock.harnesses.choice.catalogue import run_options
from benchdock.harnesses.choice.estimates import Estimator, suggestions
from benchdock.harnesses.choice.pool import RULE, pool, values_of
from benchdock.harnesses.choice.views import (
    DimensionCell,
    DimensionComparison,
    HowToMeasure,
    ModelRow,
    NotMeasured,
    RunRef,
    Significance,
    Source,
    Speed,
)
from benchdock.harnesses.client.speed import Probe
from benchdock.harnesses.contract.dimensions import DIMENSION_INFO, DIMENSIONS
from benchdock.harnesses.engine.evidence import ensure_evidence
from benchdock.harnesses.errors import BenchdockError
from benchdock.store import evidence as ev
from benchdock.store.evidence import EvidenceRow, SummaryRow


@dataclass
class Evidence:
    """What the store says, ready to compare: summaries by run, chosen rows by model and
    dimension."""

    runs: dict[str, SummaryRow]
    chosen: dict[str, dict[str, list[EvidenceRow]]] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    task_ids: dict[int, list[str]] = field(default_factory=dict)  # loaded on demand
    members: dict[int, list[str]] = field(default_factory=dict)  # pooled row -> its runs

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
    """The evidence that counts, pooled (`pool.py`: runs of a model on the same part with
    the same settings count together, each task once, its newest verdict)."""
    ensure_evidence(db)
    sums = ev.summaries(db, models)  # newest first
    rows = ev.evidence_rows(db, [s.run_id for s in sums])
    pooled = pool(sums, rows, lambda ids: ev.task_ids(db, ids))
    evidence = Evidence(runs={s.run_id: s for s in sums}, chosen=pooled.chosen,
                        members=pooled.members, task_ids=dict(pooled.task_ids))
    evidence.models = sorted({s.model for s in sums})
    return evidence


_values = values_of


def check_dimensions(dimensions: Sequence[str] | None) -> list[str]:
    if not dimensions:
        return list(DIMENSIONS)
    bad = [d for d in dimensions if d not in DIMENSION_INFO]
    if bad:
        raise BenchdockError(f"unknown dimension(s) {bad}; valid: {', '.join(DIMENSIONS)}")
    return list(dict.fromkeys(dimensions))


DEFAULT_PAGE = 20  # models per page: a 10-dimension row is ~2k tokens for an agent to read


def compare(db: Engine, models: Sequence[str] | None = None,
            dimensions: Sequence[str] | None = None, limit: int | None = DEFAULT_PAGE,
            offset: int = 0, probes: Mapping[str, Probe] | None = None) -> DimensionComparison:
    """The matrix for `models` (default: every model with results, best mean first), one page
    of `limit` models from `offset` (None: all). Leaders and tests use every model compared."""
    dims = check_dimensions(dimensions)
    if offset < 0 or (limit is not None and limit < 1):
        raise BenchdockError(f"offset must be >= 0 and limit >= 1 (got offset={offset}, limit={limit})")
    evidence = load(db, models)
    notes: list[str] = []
    wanted = list(dict.fromkeys(models)) if models else _best_first(evidence, dims)
    missing = [m for m in wanted if m not in evidence.models]
    if models and len(missing) == len(wanted):
        everyone = load(db).models
        raise BenchdockError(f"no succeeded runs for {missing}; models with results: "
                             f"{', '.join(everyone) or 'none yet (run_benchmark first)'}")
    if missing:
        notes.append(f"no succeeded runs for {', '.join(missing)}: every dimension is not "
                     f"measured for {'it' if len(missing) == 1 else 'them'}")
    estimator = Estimator(list(evidence.runs.values()), probes)
    ready = Ready()
    leaders = {d: _leader(evidence, wanted, d) for d in dims}
    page = wanted[offset:offset + limit] if limit is not None else wanted[offset:]
    _prefetch_task_ids(db, evidence, leaders, page)
    contexts = _contexts(evidence)
    failures = _failures(db, evidence, page)
    rows = [ModelRow(
        model=m, context_size=contexts.get(m),
        dimensions={d: _cell(evidence, estimator, m, d, leaders[d], ready) for d in dims},
        speed=(estimator.speed.get(m) or NO_SPEED).model_copy(update=failures.get(m, {})))
        for m in page]
    used = {r for row in rows for c in row.dimensions.values() for s in c.sources
            for r in (s.pooled_runs or [s.run_id])}
    unmeasured = [d for d in dims if any(not r.dimensions[d].measured for r in rows)]
    notes.append(f"{RULE} Significance is against each dimension's leader at p < 0.05, "
                 "uncorrected.")
    end = offset + len(rows)
    return DimensionComparison(
        dimensions=dims, models=rows, total_models=len(wanted), offset=offset,
        next_offset=end if end < len(wanted) else None, leaders=leaders, notes=notes,
        how_to_measure={d: HowToMeasure(benchmarks=[ready.label(o) for o in run_options(d)][:6],
                                        elsewhere=DIMENSION_INFO[d].elsewhere)
                        for d in unmeasured},
        runs={rid: _ref(evidence.runs[rid]) for rid in sorted(used)})


def _best_first(evidence: Evidence, dims: Sequence[str]) -> list[str]:
    """Models by their mean score over the measured dimensions asked for, best first."""
    def key(m: str) -> tuple[float, str]:
        scores = [p.mean for d in dims if (p := evidence.pooled(m, d)) is not None and p.n]
        return (-(sum(scores) / len(scores)) if scores else 1.0, m)

    return sorted(evidence.models, key=key)


NO_SPEED = Speed(tokens_per_s=None, ttft_s=None, wall_s_per_task=None, runs=0)


def _failures(db: Engine, evidence: Evidence, models: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per model: requests that failed in its runs and the seconds lost to them."""
    runs = [r for r in evidence.runs.values() if r.model in set(models)]
    rel = ev.reliability(db, [r.run_id for r in runs])
    out: dict[str, dict[str, float]] = {}
    for r in runs:
        _, failed, lost = rel.get(r.run_id, (0, 0, 0.0))
        mine = out.setdefault(r.model, {"failed_requests": 0, "retry_lost_s": 0.0})
        mine["failed_requests"] += failed
        mine["retry_lost_s"] = round(mine["retry_lost_s"] + lost, 2)
    return out


def _contexts(evidence: Evidence) -> dict[str, int]:
    """The largest context size any run recorded, per model."""
    out: dict[str, int] = {}
    for r in evidence.runs.values():
        if r.context_size:
            out[r.model] = max(out.get(r.model, 0), r.context_size)
    return out


def _leader(evidence: Evidence, models: Sequence[str], dimension: str) -> str | None:
    best: tuple[float, int, str] | None = None
    for m in models:
        p = evidence.pooled(m, dimension)
        if p is not None and p.n and (best is None or (p.mean, p.n) > best[:2]):
            best = (p.mean, p.n, m)
    return best[2] if best else None


def _ref(s: SummaryRow) -> RunRef:
    return RunRef(run_id=s.run_id, model=s.model, benchmark=s.benchmark,
                  benchmark_version=s.benchmark_version, finished_at=s.finished_at,
                  endpoint=s.endpoint_url, settings=s.params, tasks=s.tasks)


def _cell(evidence: Evidence, estimator: Estimator, model: str, dimension: str,
          leader: str | None, ready: Ready) -> DimensionCell:
    pooled = evidence.pooled(model, dimension)
    if pooled is None or pooled.n == 0:
        return DimensionCell(measured=False,
                             not_measured=not_measured(estimator, model, dimension, ready))
    rows = evidence.chosen[model][dimension]
    lo, hi = pooled.interval()
    return DimensionCell(
        measured=True, score=pooled.mean, ci95=[lo, hi], n=pooled.n,
        sources=_sources(evidence, rows), settings_differ=_settings_differ(evidence, rows),
        vs_leader=(significance(evidence, model, leader, dimension)
                   if leader and leader != model else None))


def _sources(evidence: Evidence, rows: list[EvidenceRow]) -> list[Source]:
    grouped: dict[tuple[str, str], list[EvidenceRow]] = defaultdict(list)
    for r in rows:
        grouped[(r.run_id, r.metric)].append(r)
    out = []
    for (rid, metric), rs in grouped.items():
        members = list(dict.fromkeys(m for r in rs for m in evidence.members.get(r.id, [])))
        out.append(Source(run_id=rid, benchmark=evidence.runs[rid].benchmark, metric=metric,
                          parts=sorted(r.part for r in rs), n=sum(r.n for r in rs),
                          pooled_runs=members or None))
    return out


def _settings_differ(evidence: Evidence, rows: list[EvidenceRow]) -> str | None:
    keys = ("temperature", "top_p", "max_tokens", "n_samples")
    seen = {tuple((k, evidence.runs[r.run_id].params.get(k)) for k in keys) for r in rows}
    if len(seen) < 2:
        return None
    return "pooled runs differ in " + ", ".join(
        k for i, k in enumerate(keys) if len({s[i][1] for s in seen}) > 1)


def significance(evidence: Evidence, model: str, leader: str,
                 dimension: str) -> Significance | None:
    a, b = evidence.pooled(model, dimension), evidence.pooled(leader, dimension)
    if a is None or b is None:
        return None
    diff = a.mean - b.mean
    res = _paired(evidence, model, leader, dimension)
    if res.n_shared:
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


def _matched(evidence: Evidence, a: str, b: str,
             dimension: str) -> list[tuple[EvidenceRow, EvidenceRow]]:
    """The rows of a and b on the same part and metric of the same family."""
    rows_b = {(evidence.runs[r.run_id].family, r.part, r.metric): r
              for r in evidence.chosen[b][dimension]}
    out = []
    for ra in evidence.chosen[a][dimension]:
        rb = rows_b.get((evidence.runs[ra.run_id].family, ra.part, ra.metric))
        if rb is not None:
            out.append((ra, rb))
    return out


def _prefetch_task_ids(db: Engine, evidence: Evidence, leaders: dict[str, str | None],
                       models: Sequence[str]) -> None:
    """One query for the task ids of every pair of rows over different task lists."""
    need: set[int] = set()
    for d, leader in leaders.items():
        if leader is None:
            continue
        for m in models:
            if m != leader and evidence.chosen.get(m, {}).get(d):
                for ra, rb in _matched(evidence, m, leader, d):
                    if ra.tasks_hash != rb.tasks_hash:
                        need.update((ra.id, rb.id))
    evidence.task_ids.update(ev.task_ids(db, sorted(need - set(evidence.task_ids))))


def _paired(evidence: Evidence, a: str, b: str, dimension: str) -> stats.PairedResult:
    """Sign-test counts over the tasks a and b share, in every part both measured. Rows over
    the same task list and with pass/fail outcomes are compared as bit strings."""
    n = wins = losses = 0
    diff = 0.0
    for ra, rb in _matched(evidence, a, b, dimension):
        if ra.tasks_hash == rb.tasks_hash and ra.values is None and rb.values is None:
            xa, xb = int(ra.outcomes or "0", 2), int(rb.outcomes or "0", 2)
            w, lo = (xa & ~xb).bit_count(), (xb & ~xa).bit_count()
            n, wins, losses, diff = n + ra.n, wins + w, losses + lo, diff + w - lo
            continue
        if ra.tasks_hash == rb.tasks_hash:
            pairs = list(zip(_values(ra), _values(rb), strict=True))
        else:
            ids_a, ids_b = _ids(evidence, ra), _ids(evidence, rb)
            vb = dict(zip(ids_b, _values(rb), strict=True))
            pairs = [(x, vb[t]) for t, x in zip(ids_a, _values(ra), strict=True) if t in vb]
        n += len(pairs)
        wins += sum(1 for x, y in pairs if x > y)
        losses += sum(1 for x, y in pairs if x < y)
        diff += sum(x - y for x, y in pairs)
    return stats.PairedResult(n, wins, losses, diff / n if n else 0.0,
                              stats.sign_test_p(wins, losses))


def _ids(evidence: Evidence, row: EvidenceRow) -> list[str]:
    return evidence.task_ids[row.id]


def not_measured(estimator: Estimator, model: str, dimension: str,
                 ready: Ready | None = None) -> NotMeasured:
    options = suggestions(estimator, model, dimension)
    if not options:
        return NotMeasured(reason="not measured: no benchdock benchmark measures "
                                  f"{DIMENSION_INFO[dimension].title.lower()} yet "
                                  "(see how_to_measure)")
    picked = (ready or Ready()).pick(options)
    if picked is None:
        return NotMeasured(reason=(
            f"not measured: none of the benchmarks that measure it can run here "
            f"({', '.join(o.bench.id for o, _ in options)}; see how_to_measure)"))
    best, est, setup = picked
    return NotMeasured(
        reason=f"not measured: {model} has no succeeded run of a benchmark that measures it",
        measured_by=best.bench.id, limit=best.limit, tasks=best.tasks,
        estimate_minutes=round(est.minutes, 1), estimate_basis=est.basis, setup=setup)
