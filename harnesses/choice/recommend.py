"""Ranking models for a job: priority weights over the dimensions, hard constraints, the
quality/speed Pareto front, and — when the evidence cannot tell the top two apart — the run
that would.

A model's score is the weighted mean of its *measured* dimensions (weights renormalised over
them), with an interval from the dimensions' own; `coverage` says how much of the weight
that covers, so a model measured on one strong dimension cannot pass for an all-rounder
unnoticed. Dimensions no benchdock benchmark can measure are reported and left out of the
decision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from benchdock.harnesses.choice import stats
from benchdock.harnesses.choice.advice import Ready
from benchdock.harnesses.choice.catalogue import (
    TARGET_TASKS,
    catalogue,
    least_saturated_ready,
    run_options,
    saturation_note,
    unsaturated,
)
from benchdock.harnesses.choice.compare import compare
from benchdock.harnesses.choice.estimates import Estimator, suggestions
from benchdock.harnesses.choice.profiles import resolve
from benchdock.harnesses.choice.views import (
    Constraints,
    DimensionComparison,
    Excluded,
    ModelRow,
    NextRun,
    Ranked,
    Recommendation,
)
from benchdock.harnesses.client.speed import Probe
from benchdock.harnesses.contract.metrics import Z95
from benchdock.store import evidence as ev

# a dimension measured for only one of the top two decides if its weight is at least this
DECIDING_WEIGHT = 0.05


@dataclass
class Scored:
    row: ModelRow
    score: float
    var: float
    coverage: float

    @property
    def ci(self) -> list[float]:
        half = Z95 * math.sqrt(self.var)
        return [max(0.0, self.score - half), min(1.0, self.score + half)]


def recommend(db: Engine, priorities: str | Mapping[str, float] | None = None,
              constraints: Constraints | None = None,
              models: Sequence[str] | None = None,
              comparison: DimensionComparison | None = None,
              probes: Mapping[str, Probe] | None = None) -> Recommendation:
    """`comparison`: one already made of the same models over (at least) the prioritised
    dimensions and every model, so a caller that has it does not compare twice."""
    weights, profile = resolve(priorities)
    constraints = constraints or Constraints()
    cmp = comparison or compare(db, models, list(weights), limit=None, probes=probes)
    measurable = {d for d in weights if run_options(d)}
    excluded: list[Excluded] = []
    scored: list[Scored] = []
    for row in cmp.models:
        measured = [d for d in weights if row.dimensions[d].measured]
        if not measured:
            excluded.append(Excluded(model=row.model, reason=(
                "no evidence on the prioritised dimensions " + ", ".join(weights))))
            continue
        why = violation(row, constraints)
        if why:
            excluded.append(Excluded(model=row.model, reason=why))
            continue
        scored.append(_score(row, weights))
    scored.sort(key=_order)
    front = pareto(scored)
    ranking = [Ranked(rank=i + 1, model=s.row.model, score=s.score, ci95=s.ci,
                      coverage=s.coverage,
                      dimensions={d: s.row.dimensions[d].score for d in weights},
                      tokens_per_s=s.row.speed.tokens_per_s, pareto=s.row.model in front,
                      reason=_reason(i + 1, s, weights, front, measurable))
               for i, s in enumerate(scored)]
    separated, next_run = None, None
    if len(scored) >= 2:
        separated, next_run = _separate(scored[0], scored[1], weights, measurable,
                                        Estimator(ev.summaries(db), probes))
    unmeasurable = sorted(set(weights) - measurable)
    return Recommendation(
        priorities=weights, profile=profile, ranking=ranking, excluded=excluded,
        pareto_front=[s.row.model for s in scored if s.row.model in front],
        separated=separated, next_run=next_run, tie_rule=TIE_RULE,
        summary=_summary(ranking, separated, next_run, unmeasurable, weights)
        + _tie(scored))


TIE_RULE = ("by score, then the share of the weight measured; equal on both: more tokens/s, "
            "then fewer failed requests, then more tasks measured, then the model id")


def _order(s: Scored) -> tuple[float, float, float, int, int, str]:
    """TIE_RULE as a sort key (scores equal to 6 decimals are a tie)."""
    tasks = sum(c.n for c in s.row.dimensions.values())
    return (-round(s.score, 6), -round(s.coverage, 6), -(s.row.speed.tokens_per_s or 0.0),
            int(s.row.speed.failed_requests or 0), -tasks, s.row.model)


def violation(row: ModelRow, c: Constraints) -> str | None:
    sp = row.speed
    checks: list[tuple[float | None, float | None, str, bool]] = [
        (c.min_tokens_per_s, sp.tokens_per_s, "tokens/s", True),
        (c.max_ttft_s, sp.ttft_s, "time to first token (s)", False),
        (c.max_wall_s_per_task, sp.wall_s_per_task, "wall time per task (s)", False),
        (c.context_needed, row.context_size, "context size (tokens)", True),
    ]
    for bound, value, label, at_least in checks:
        if bound is None:
            continue
        if value is None:
            return f"{label} not known for {row.model}, so the constraint cannot be checked"
        if (value < bound) if at_least else (value > bound):
            return (f"{label} {value:.4g} {'below' if at_least else 'above'} the "
                    f"{'minimum' if at_least else 'maximum'} {bound:.4g}")
    return None


def _score(row: ModelRow, weights: Mapping[str, float]) -> Scored:
    used = {d: c for d in weights if (c := row.dimensions[d]).measured and c.score is not None}
    wsum = sum(weights[d] for d in used)
    score = sum(weights[d] * (c.score or 0.0) for d, c in used.items()) / wsum
    var = sum((weights[d] / wsum) ** 2 * _var(c.ci95) for d, c in used.items())
    return Scored(row, score, var, wsum)


def _var(ci: list[float] | None) -> float:
    return ((ci[1] - ci[0]) / (2 * Z95)) ** 2 if ci else 0.25


def pareto(scored: Sequence[Scored]) -> set[str]:
    """Models with a measured speed that no other model beats on both score and tokens/s."""
    timed = [s for s in scored if s.row.speed.tokens_per_s is not None]
    front = set()
    for a in timed:
        ta = a.row.speed.tokens_per_s or 0.0
        if not any((b.score >= a.score and (b.row.speed.tokens_per_s or 0.0) >= ta)
                   and (b.score > a.score or (b.row.speed.tokens_per_s or 0.0) > ta)
                   for b in timed if b is not a):
            front.add(a.row.model)
    return front


def _reason(rank: int, s: Scored, weights: Mapping[str, float], front: set[str],
            measurable: set[str]) -> str:
    cells = s.row.dimensions
    measured = sorted((d for d in weights if cells[d].measured),
                      key=lambda d: -(cells[d].score or 0.0))
    missing = [d for d in weights if not cells[d].measured and d in measurable]
    lo, hi = s.ci
    parts = [f"#{rank}: {s.score:.3f} [{lo:.3f}, {hi:.3f}] over "
             f"{len(measured)} measured dimension(s), {s.coverage:.0%} of the weight"]
    if measured:
        parts.append(f"strongest {measured[0]} {cells[measured[0]].score:.3f}")
        if len(measured) > 1:
            parts.append(f"weakest {measured[-1]} {cells[measured[-1]].score:.3f}")
    if missing:
        parts.append("not measured: " + ", ".join(f"{d} ({weights[d]:.0%})" for d in missing))
    tps = s.row.speed.tokens_per_s
    parts.append(f"{tps:.1f} tokens/s" if tps is not None else "speed not measured")
    if s.row.model in front:
        parts.append("on the quality/speed Pareto front")
    return "; ".join(parts)


def _separate(a: Scored, b: Scored, weights: Mapping[str, float], measurable: set[str],
              estimator: Estimator) -> tuple[bool, NextRun | None]:
    """Is #1 clearly ahead of #2? If not, which dimension would decide, and which run."""
    ca, cb = a.row.dimensions, b.row.dimensions
    both = [d for d in weights if ca[d].measured and cb[d].measured]
    gaps = [d for d in weights if d in measurable and not (ca[d].measured and cb[d].measured)
            and weights[d] >= DECIDING_WEIGHT]
    diff = sum(weights[d] * ((ca[d].score or 0) - (cb[d].score or 0)) for d in both)
    se = math.sqrt(sum(weights[d] ** 2 * (_var(ca[d].ci95) + _var(cb[d].ci95)) for d in both))
    significant = bool(both) and abs(diff) > Z95 * se
    if significant and not gaps:
        return True, None
    # the deciding dimension: an unmeasured one by weight, else the most uncertain shared one
    if gaps:
        dim = max(gaps, key=lambda d: weights[d])
        lacking = [s for s in (a, b) if not s.row.dimensions[dim].measured]
        picked = Ready().pick(suggestions(estimator, lacking[0].row.model, dim))
        if picked is None:
            return False, None
        opt, est, setup = picked
        return False, NextRun(
            models=[s.row.model for s in lacking], benchmark=opt.bench.id, limit=opt.limit,
            dimension=dim, estimate_minutes=round(est.minutes * len(lacking), 1), setup=setup,
            why=(f"{dim} ({weights[dim]:.0%} of the weight) is not measured for "
                 + " nor ".join(s.row.model for s in lacking)))
    dim = max(both, key=lambda d: weights[d] * math.sqrt(_var(ca[d].ci95) + _var(cb[d].ci95)))
    return False, _more_of(a, b, dim, estimator)


def _more_of(a: Scored, b: Scored, dim: str, estimator: Estimator) -> NextRun | None:
    """The same benchmark both already ran for `dim`, with a limit large enough to separate
    the difference seen (twice their current tasks at least), run on both: paired."""
    ca, cb = a.row.dimensions[dim], b.row.dimensions[dim]
    need = stats.tasks_to_separate(ca.score or 0.0, cb.score or 0.0)
    target = max(need or 0, 2 * max(ca.n, cb.n))
    shared = {s.benchmark for s in ca.sources} & {s.benchmark for s in cb.sources}
    bench_id = max(shared or {s.benchmark for s in ca.sources},
                   key=lambda bid: sum(s.n for s in ca.sources if s.benchmark == bid))
    bench = catalogue().get(bench_id)
    if bench is None:
        return None
    fresher = least_saturated_ready(dim)
    note = None
    if fresher is not None and fresher.id != bench.id and not unsaturated(bench):
        # more of a saturated benchmark adds noise; a less saturated one can separate them
        note = saturation_note(fresher, dim)
        bench_id, bench, target = fresher.id, fresher, max(need or 0, TARGET_TASKS)
    parts = [p for p in bench.parts if any(m.covers(p) for m in bench.dimension_metrics()
                                           if m.dimension == dim)] or list(bench.parts)
    limit = math.ceil(target / len(parts))
    tasks = min(bench.nominal_tasks, limit * len(bench.parts))
    minutes = sum(estimator.estimate(s.row.model, bench, tasks).minutes for s in (a, b))
    gap = (f"about {need} tasks per model would separate the difference seen there" if need
           else "they scored the same there, so more tasks would bound the difference, not "
                "separate them")
    return NextRun(
        models=[a.row.model, b.row.model], benchmark=bench_id,
        limit=None if tasks >= bench.nominal_tasks else limit, dimension=dim,
        estimate_minutes=round(minutes, 1),
        why=(f"the difference between {a.row.model} and {b.row.model} is within the noise; "
             f"{dim} carries the most uncertainty ({ca.n} and {cb.n} tasks): {gap}; run "
             f"{bench_id} on both, on the same tasks" + (f" ({note})" if note else "")))


def _tie(scored: Sequence[Scored]) -> str:
    """Said when the top two tie on score and coverage: why the first is first."""
    if len(scored) < 2 or _order(scored[0])[:2] != _order(scored[1])[:2]:
        return ""
    a, b = scored[0].row, scored[1].row
    return (f" {a.model} and {b.model} tie on score ({scored[0].score:.3f}); {a.model} is "
            f"first by the tie rule ({a.speed.tokens_per_s or 0:.1f} vs "
            f"{b.speed.tokens_per_s or 0:.1f} tokens/s, {a.speed.failed_requests or 0} vs "
            f"{b.speed.failed_requests or 0} failed requests).")


def _summary(ranking: list[Ranked], separated: bool | None, nxt: NextRun | None,
             unmeasurable: list[str], weights: Mapping[str, float]) -> str:
    if not ranking:
        return "No model has evidence that fits: see `excluded`, and run_benchmark first."
    top = ranking[0]
    out = f"Best for these priorities: {top.model} ({top.score:.3f}, {top.coverage:.0%} of the weight measured)."
    if separated is True:
        out += f" The evidence separates it from {ranking[1].model}."
    elif separated is False:
        out += f" The evidence does not separate it from {ranking[1].model}"
        out += (f"; to decide, run {nxt.benchmark}"
                + (f" with limit={nxt.limit}" if nxt.limit else "")
                + f" on {' and '.join(nxt.models)} (~{nxt.estimate_minutes} min)"
                + (f", after {nxt.setup}" if nxt.setup else "") + "." if nxt else ".")
    if unmeasurable:
        share = sum(weights[d] for d in unmeasurable)
        out += (f" {', '.join(unmeasurable)} ({share:.0%} of the weight) cannot be measured by "
                "benchdock yet and were left out.")
    return out
