"""Planning an evaluation: which runs to queue, cheapest informative first, to cover the
dimensions that matter for the given models within a time budget.

A candidate is one benchmark (with a limit) run on every listed model that still needs a
dimension it measures — the same tasks for each, so that the comparison afterwards is
paired. It is worth the priority weight of the dimensions it would newly measure for each
model (half that for dimensions measured on fewer than 30 tasks, whose intervals are still
wide). The plan takes the best worth per estimated minute that still fits — cutting the
limit down to what the budget leaves, its worth scaled with its tasks — until nothing does.
Estimates come from the runs already made on this endpoint (see `estimates`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.engine import Engine

from benchdock.harnesses.choice.catalogue import (
    catalogue,
    least_saturated_ready,
    run_options,
    saturation_note,
)
from benchdock.harnesses.choice.compare import load
from benchdock.harnesses.choice.estimates import Estimator
from benchdock.harnesses.choice.profiles import resolve
from benchdock.harnesses.choice.views import (
    DryRun,
    EvaluationPlan,
    ModelTime,
    PlannedRun,
    Uncovered,
)
from benchdock.harnesses.client.speed import Probe
from benchdock.harnesses.contract.dimensions import DIMENSION_INFO
from benchdock.harnesses.errors import BenchdockError
from benchdock.harnesses.service.setup import advice
from benchdock.store import evidence as ev

THIN = 30  # tasks below which a measured dimension is still worth measuring again
MIN_PER_PART = 5  # a run cut down to fit the budget keeps at least this many tasks per part

Need = dict[tuple[str, str], float]  # (model, dimension) -> worth of measuring it


@dataclass(frozen=True)
class Entry:
    model: str
    per_task_min: float
    basis: str
    dims: tuple[str, ...]
    switch_min: float = 0.0  # loading the model on a swapping server, once per run


@dataclass(frozen=True)
class Candidate:
    bench_id: str
    limit: int | None
    tasks: int  # per model
    full_tasks: int  # before any cut
    parts: int
    entries: tuple[Entry, ...]
    blocked: str | None
    setup_min: float = 0.0  # downloads before the first task (images), once per machine

    @property
    def minutes(self) -> float:
        return sum(e.per_task_min * self.tasks + e.switch_min for e in self.entries) + \
            (self.setup_min if self.entries else 0.0)

    def worth(self, need: Need) -> float:
        return sum(need.get((e.model, d), 0.0) for e in self.entries for d in e.dims)

    def live(self, need: Need) -> Candidate:
        """Only the models that still need something from it."""
        return replace(self, entries=tuple(e for e in self.entries
                                           if any((e.model, d) in need for d in e.dims)))

    def fitted(self, minutes: float) -> Candidate | None:
        """This run, or the same with a limit cut down to fit in `minutes` (keeping at least
        MIN_PER_PART tasks per part), or None."""
        if self.minutes <= minutes:
            return self
        per_task = sum(e.per_task_min for e in self.entries)
        fixed = sum(e.switch_min for e in self.entries) + self.setup_min
        per_part = int(max(0.0, minutes - fixed) / max(per_task, 1e-9)) // self.parts
        if per_part < MIN_PER_PART:
            return None
        return replace(self, limit=per_part, tasks=per_part * self.parts)


def plan(db: Engine, models: Sequence[str], budget_minutes: float,
         priorities: str | Mapping[str, float] | None = None,
         known_models: Sequence[str] = (),
         switch_s: Mapping[str, float] | None = None,
         probes: Mapping[str, Probe] | None = None,
         notes: Sequence[str] = ()) -> EvaluationPlan:
    """`switch_s`: seconds to load each model on a server that swaps models (measured by
    `decide`, kept in BENCHDOCK_HOME/switch_costs.json); each planned run pays one load.
    `probes`: speeds probed for models with nothing measured (`speeds.py`)."""
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
    gaps: dict[tuple[str, str | None], tuple[list[str], list[str]]] = {}

    def gap(reason: str, setup: str | None, m: str, d: str) -> None:
        ms, ds = gaps.setdefault((reason, setup), ([], []))
        ms.append(m) if m not in ms else None
        ds.append(d) if d not in ds else None

    need: Need = {}
    for m in dict.fromkeys(models):
        for d, w in weights.items():
            pooled = evidence.pooled(m, d)
            if pooled is not None and pooled.n >= THIN:
                continue
            if not run_options(d):
                gap("no benchdock benchmark measures it yet; elsewhere: "
                    + ", ".join(DIMENSION_INFO[d].elsewhere), None, m, d)
                continue
            need[(m, d)] = w if pooled is None else w / 2
    candidates = _candidates(Estimator(ev.summaries(db), probes), need, switch_s or {})
    runs: list[PlannedRun] = []
    left = budget_minutes
    while True:
        live = []
        for c in candidates:
            c = c.live(need)
            fit = c.fitted(left) if c.blocked is None and c.entries else None
            if fit is not None:
                live.append(fit)
        if not live:
            break
        best = max(live, key=lambda c: c.worth(need) * c.tasks / c.full_tasks / max(c.minutes, 0.05))
        # a run that downloads first (SWE-bench's images) says what, and its first model's
        # estimate carries the download, once
        footprint = catalogue()[best.bench_id].footprint(best.tasks) if best.setup_min else None
        candidates = [replace(c, setup_min=0.0) if c.bench_id == best.bench_id else c
                      for c in candidates]
        for n, e in enumerate(best.entries):
            dims = [d for d in e.dims if (e.model, d) in need]
            worth = sum(need[(e.model, d)] for d in dims)
            pull = footprint.download_minutes if footprint and n == 0 else 0.0
            runs.append(PlannedRun(
                order=len(runs) + 1, model=e.model, benchmark=best.bench_id, limit=best.limit,
                tasks=best.tasks, footprint=footprint,
                estimate_minutes=round(e.per_task_min * best.tasks + e.switch_min + pull, 1),
                estimate_basis=e.basis + (
                    f" + {e.switch_min * 60:.0f} s to load the model (switch measured on this "
                    "swapping endpoint)" if e.switch_min else "") + (
                    f" + {pull:.0f} min to download {footprint.items - footprint.present} "
                    f"images (~{footprint.download_gb:.0f} GB)" if pull and footprint else ""),
                dimensions=dims,
                why=(f"measures {', '.join(dims)} ({worth:.0%} of the priority weight still "
                     f"open for {e.model})"
                     + (f"; limit cut to {best.limit} to fit the budget"
                        if best.tasks < best.full_tasks else "")
                     + "".join(f"; {note}" for d in dims
                               if (note := saturation_note(catalogue()[best.bench_id], d))))))
            for d in dims:
                need.pop((e.model, d), None)
        left -= best.minutes
    for (m, d) in sorted(need):
        gap(*_why_not(candidates, m, d), m, d)
    return EvaluationPlan(
        budget_minutes=budget_minutes, planned_minutes=round(budget_minutes - left, 1),
        runs=runs, priorities=weights,
        uncovered=[Uncovered(reason=r, setup=s, models=ms, dimensions=ds)
                   for (r, s), (ms, ds) in gaps.items()],
        notes=[*notes,
               "Each benchmark runs with the same limit on every model that needs it, so the "
               "comparison is paired. Estimates come from runs on this endpoint, else from "
               "each model's probed speed (each run says its basis); limits are per "
               "category/language on suites. Only runs that can run now are planned.",
               f"A dimension counts as measured from {THIN} tasks on; below that it is "
               "planned again at half its weight."])


def _why_not(candidates: Sequence[Candidate], model: str, dim: str) -> tuple[str, str | None]:
    """Why (model, dim) is not covered, in words shared by every model it applies to, and
    the set-up that would let it be (None: none would)."""
    mine = [(c, e) for c in candidates for e in c.entries if e.model == model and dim in e.dims]
    ready = [(c, e) for c, e in mine if not c.blocked]
    if not ready:
        for c, _ in mine:  # the first that a set-up can make ready, best first
            fix, _blocked = advice(catalogue()[c.bench_id])
            if fix is not None:
                return f"{c.bench_id} is not set up here", fix
        c = mine[0][0]
        return f"{c.bench_id} cannot run here: {c.blocked}", None
    c, _ = min(ready, key=lambda ce: ce[1].per_task_min * ce[0].tasks)
    worst = max(e.per_task_min * c.tasks for cc, e in ready if cc.bench_id == c.bench_id)
    return (f"over budget: {c.bench_id} (limit {c.limit}) would take up to ~{worst:.0f} min "
            "per model"), None


def _candidates(estimator: Estimator, need: Need,
                switch_s: Mapping[str, float]) -> list[Candidate]:
    out: dict[str, Candidate] = {}
    models = list(dict.fromkeys(m for m, _ in need))
    wanted = list(dict.fromkeys(d for _, d in need))
    # a dimension a less saturated ready benchmark measures is not planned on a more
    # saturated one (HumanEval at ~95% for frontier models separates nobody)
    preferred = {d: b for d in wanted if (b := least_saturated_ready(d)) is not None}
    for d in wanted:
        for opt in run_options(d):
            if opt.bench.id in out:
                continue
            measured = {r.dimension for r in opt.bench.dimension_metrics()
                        if r.dimension not in preferred or preferred[r.dimension].id == opt.bench.id}
            entries = []
            for m in models:
                dims = tuple(sorted(x for x in measured if (m, x) in need))
                if dims:
                    per_task, basis = estimator.per_task_s(m, opt.bench)
                    entries.append(Entry(m, per_task / 60.0, basis, dims,
                                         switch_s.get(m, 0.0) / 60.0))
            blocked = opt.bench.readiness()
            fp = opt.bench.footprint(opt.tasks) if blocked is None else None
            out[opt.bench.id] = Candidate(
                opt.bench.id, opt.limit, opt.tasks, opt.tasks,
                len(opt.bench.parts) if opt.limit else 1, tuple(entries), blocked,
                fp.download_minutes if fp else 0.0)
    return list(out.values())


def dry_run(db: Engine, models: Sequence[str], bench_id: str,
            limit: int | None = None) -> DryRun:
    """What a run of `bench_id` (its first `limit` tasks) would pull, need on disk and take
    for each model, whether or not it can run here now: nothing is queued or pulled."""
    bench = catalogue().get(bench_id)
    if bench is None:
        raise BenchdockError(f"unknown benchmark {bench_id!r}; valid choices: "
                             f"{', '.join(catalogue())}")
    if not models:
        raise BenchdockError("name the models to estimate for (list_models shows them)")
    tasks = min(limit, bench.nominal_tasks) if limit else bench.nominal_tasks
    estimator = Estimator(ev.summaries(db))
    fp = bench.footprint(tasks)
    per_model = []
    for m in dict.fromkeys(models):
        est = estimator.estimate(m, bench, tasks)
        per_model.append(ModelTime(model=m, estimate_minutes=round(est.minutes, 1),
                                   estimate_basis=est.basis))
    why = bench.readiness()
    total = sum(p.estimate_minutes for p in per_model) + (fp.download_minutes if fp else 0.0)
    return DryRun(benchmark=bench_id, tasks=tasks, limit=limit, ready=why is None, why_not=why,
                  footprint=fp, per_model=per_model, total_hours=round(total / 60, 1))
