"""What `decide` says beside its paired intervals: each model's own rate, whether a
benchmark can tell the models apart at all, and which of several equivalent models to use.

Why each model's own rate: a paired difference of 0 is what two models that both solve
everything and two that solve nothing have in common; the rates say which it is. Why "not
informative": when every model scores 0 (or 1) on a benchmark, its intervals close around 0
and the models would be called "equivalent" on a dimension the benchmark did not measure for
them at all; such a dimension stops early and leaves the overall verdict. Why a tie rule:
"equivalent within the margin" leaves the agent to choose; the rule it would apply is stated
and applied the same way every time.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Engine

from benchdock.harnesses.choice.adaptive_views import ModelRate
from benchdock.harnesses.contract.metrics import mean_interval, wilson
from benchdock.store import queries as q

MIN_INFORMATIVE = 20  # tasks after which all-floor or all-ceiling stops a benchmark


def rate(model: str, values: Sequence[float]) -> ModelRate:
    """A model's own rate and its 95% interval (Wilson for pass/fail outcomes)."""
    n = len(values)
    if n == 0:
        return ModelRate(model=model, rate=0.0, ci95=[0.0, 1.0], n=0)
    binary = all(v in (0.0, 1.0) for v in values)
    lo, hi = wilson(sum(values), n) if binary else mean_interval(list(values))
    return ModelRate(model=model, rate=round(sum(values) / n, 4),
                     ci95=[round(lo, 4), round(hi, 4)], n=n)


def uninformative(rates: Sequence[ModelRate]) -> float | None:
    """0 or 1 when every model has the same extreme rate on at least MIN_INFORMATIVE tasks:
    the benchmark cannot separate them, and 'equivalent' would say nothing."""
    if not rates or min(r.n for r in rates) < MIN_INFORMATIVE:
        return None
    for bound in (0.0, 1.0):
        if all(r.rate == bound for r in rates):
            return bound
    return None


TIE_RULE = ("equivalent on quality within the margin: the one with more generated tokens/s "
            "in this decision's runs, then fewer failed requests, then the first listed")


def tie_break(db: Engine, models: Sequence[str], run_ids: Sequence[str]) -> tuple[str, str]:
    """The model to use among equivalent ones, by TIE_RULE, and the rule with the figures."""
    speed: dict[str, float] = {}
    failed: dict[str, int] = {}
    for rid in run_ids:
        run = q.get_run(db, rid)
        if run is None or run.model not in models:
            continue
        timing = (run.metrics or {}).get("timing") or {}
        tps = timing.get("tokens_per_s")
        if tps:
            speed[run.model] = max(speed.get(run.model, 0.0), float(tps))
        failed[run.model] = failed.get(run.model, 0) + int(timing.get("failed_requests") or 0)
    order = sorted(models, key=lambda m: (-speed.get(m, 0.0), failed.get(m, 0),
                                          list(models).index(m)))
    figures = ", ".join(f"{m} {speed[m]:.1f} tok/s" if m in speed else f"{m} speed unknown"
                        for m in order)
    return order[0], f"{TIE_RULE} ({figures})"
