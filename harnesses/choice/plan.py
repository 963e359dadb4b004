"""Planning an evaluation: which runs to queue, cheapest informative first, to cover the
dimensions that matter for the given models within a time budget.

A candidate run is worth the priority weight of the dimensions it would newly measure for its
model (half that for dimensions measured on fewer than 30 tasks, whose intervals are still
wide); the plan takes the best worth per estimated minute that still fits, until nothing
does. Estimates come from the runs already made on this endpoint (see `estimates`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from benchdock.harnesses.choice.catalogue import run_options
from benchdock.harnesses.choice.compare import load
from benchdock.harnesses.choice.estimates import Estimator
from benchdock.harnesses.choice.profiles import resolve
from benchdock.harnesses.choice.views import EvaluationPlan, PlannedRun, Uncovered
from benchdock.harnesses.dimensions import DIMENSION_INFO
from benchdock.harnesses.errors import BenchdockError
from benchdock.store import evidence as ev

THIN = 30  # tasks below which a measured dimension is still worth measuring again


@dataclass
class Candidate:
    model: str
    bench_id: str
    limit: int | None
    tasks: int
    minutes: float
    basis: str
    dims: list[str]
    worth: float
    blocked: str | None


def plan(db: Engine, models: Sequence[str], budget_minutes: float,
         priorities: str | Mapping[str, float] | None = None,
         known_models: Sequence[str] = ()) -> EvaluationPlan:
    if not models:
        raise BenchdockError("name the models to plan for (list_models shows them)")
    if budget_minutes <= 0:
        raise BenchdockError(f"budget_minutes must be > 0, got {budget_minutes}")
    weights, _ = resolve(priorities)
    evidence = load(db)
    valid = set(evidence.models) | set(known_models)
    unknown = [m for m in models if m not in valid]
    if unknown:
        raise BenchdockError(f"unknown model(s) {unknown}; models on the endpoints or with "
                             f"results: {', '.join(sorted(valid)) or 'none'}")
    estimator = Estimator(ev.summaries(db))
    uncovered: list[Uncovered] = []
    need: dict[tuple[str, str], float] = {}  # (model, dimension) -> worth of measuring it
    for m in dict.fromkeys(models):
        for d, w in weights.items():
            pooled = evidence.pooled(m, d)
            if pooled is not None and pooled.n >= THIN:
                continue
            if not run_options(d):
                uncovered.append(Uncovered(model=m, dimension=d, reason=(
                    "no benchdock benchmark measures it yet; elsewhere: "
                    + ", ".join(DIMENSION_INFO[d].elsewhere))))
                continue
            need[(m, d)] = w if pooled is None else w / 2
    candidates = _candidates(estimator, need)
    chosen: list[Candidate] = []
    left = budget_minutes
    while True:
        live = [c for c in candidates if c.blocked is None and c.minutes <= left
                and _worth(c, need) > 0]
        if not live:
            break
        best = max(live, key=lambda c: _worth(c, need) / max(c.minutes, 0.05))
        chosen.append(best)
        left -= best.minutes
        for d in best.dims:
            need.pop((best.model, d), None)
    for (m, d), _w in sorted(need.items()):
        blocked = [c for c in candidates if c.model == m and d in c.dims and c.blocked]
        fits = [c for c in candidates if c.model == m and d in c.dims and not c.blocked]
        if blocked and not fits:
            reason = f"{blocked[0].bench_id} cannot run here: {blocked[0].blocked}"
        else:
            cheapest = min(fits, key=lambda c: c.minutes)
            reason = (f"over budget: {cheapest.bench_id} (limit {cheapest.limit}) would take "
                      f"~{cheapest.minutes:.0f} min")
        uncovered.append(Uncovered(model=m, dimension=d, reason=reason))
    runs = [PlannedRun(order=i + 1, model=c.model, benchmark=c.bench_id, limit=c.limit,
                       tasks=c.tasks, estimate_minutes=round(c.minutes, 1),
                       estimate_basis=c.basis, dimensions=c.dims,
                       why=f"measures {', '.join(c.dims)} ({c.worth:.0%} of the priority weight "
                           f"still open for {c.model})")
            for i, c in enumerate(chosen)]
    return EvaluationPlan(
        budget_minutes=budget_minutes, planned_minutes=round(budget_minutes - left, 1),
        runs=runs, uncovered=uncovered, priorities=weights,
        notes=["Estimates come from runs on this endpoint where there are any (each run says "
               "its basis); limits are per category/language on suites.",
               f"A dimension counts as measured from {THIN} tasks on; below that it is "
               "planned again at half its weight."])


def _worth(c: Candidate, need: Mapping[tuple[str, str], float]) -> float:
    return sum(need.get((c.model, d), 0.0) for d in c.dims)


def _candidates(estimator: Estimator, need: Mapping[tuple[str, str], float]) -> list[Candidate]:
    out: dict[tuple[str, str], Candidate] = {}
    for (m, d) in need:
        for opt in run_options(d):
            key = (m, opt.bench.id)
            if key in out:
                continue
            est = estimator.estimate(m, opt.bench, opt.tasks)
            dims = sorted({r.dimension for r in opt.bench.dimension_metrics()
                           if (m, r.dimension) in need})
            out[key] = Candidate(m, opt.bench.id, opt.limit, opt.tasks, est.minutes, est.basis,
                                 dims, sum(need[(m, x)] for x in dims), opt.bench.readiness())
    return list(out.values())
