"""The benchmarks as the choice code sees them: which measure which dimension, and the run
that would measure one without running a whole suite. Built once from the registry, so a new
harness appears here by being registered."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from benchdock.harnesses.contract.benchmark import BenchmarkBase
from benchdock.harnesses.contract.registry import all_benchmarks

# tasks a first informative run aims at: a 95% interval about +-0.1 wide at worst
TARGET_TASKS = 100
# a benchmark where frontier models score this much or more (its declared Frontier) is
# saturated: a dimension is measured on an unsaturated ready benchmark when there is one
SATURATED = 0.8


@lru_cache(maxsize=1)
def catalogue() -> dict[str, BenchmarkBase]:
    return {b.id: b for b in all_benchmarks()}


@dataclass(frozen=True)
class RunOption:
    """A run of `bench` (with `limit`, per part on suites) that measures a dimension."""

    bench: BenchmarkBase
    limit: int | None
    tasks: int
    relevant_parts: int  # parts of the benchmark that the dimension's map rows cover
    relevant_tasks: int  # tasks of the run that count for the dimension


def saturation(bench: BenchmarkBase) -> float | None:
    """The best published pass@1 on `bench` (its declared frontier), where it declares one."""
    return bench.frontier.pass_at_1 if bench.frontier is not None else None


def unsaturated(bench: BenchmarkBase) -> bool:
    """Frontier models score under SATURATED on it: the models a user chooses between still
    differ there by more than noise."""
    score = saturation(bench)
    return score is not None and score < SATURATED


def least_saturated_ready(dimension: str) -> BenchmarkBase | None:
    """The unsaturated ready benchmark measuring `dimension` with the lowest frontier score,
    if there is one."""
    ready = [o.bench for o in run_options(dimension)
             if unsaturated(o.bench) and o.bench.readiness() is None]
    return ready[0] if ready else None


def saturation_note(bench: BenchmarkBase, dimension: str) -> str | None:
    """Why `bench` is chosen for `dimension` (an unsaturated benchmark, preferred to the
    saturated ones that measure it too), or None when saturation did not decide."""
    if not unsaturated(bench) or bench.frontier is None:
        return None
    others = [(o.bench, score) for o in run_options(dimension)
              if (score := saturation(o.bench)) is not None and score >= SATURATED]
    if not others:
        return None
    worst, score = max(others, key=lambda bs: bs[1])
    return (f"{bench.id} is the least saturated ready {dimension} benchmark: frontier models "
            f"score ~{bench.frontier.pass_at_1:.0%} there against ~{score:.0%} on "
            f"{worst.id}, so the models compared still differ on it ({bench.frontier.source})")


def run_options(dimension: str) -> list[RunOption]:
    """One option per benchmark that measures `dimension` and runs offline: the whole
    benchmark when it is small, else a per-part `limit` giving about TARGET_TASKS tasks;
    unsaturated ones first, least saturated first (declared frontier scores under
    SATURATED; the order of the others is unchanged by it), then those with
    the most tasks that count for the dimension (up to TARGET_TASKS), then the broadest
    (most relevant parts)."""
    out = []
    for b in catalogue().values():
        rows = [m for m in b.dimension_metrics() if m.dimension == dimension]
        if not rows or any(r.kind == "internet" for r in b.requirements()):
            continue
        parts = b.parts
        relevant = sum(1 for p in parts if any(m.covers(p) for m in rows))
        if b.nominal_tasks <= TARGET_TASKS:
            share = relevant / len(parts)
            out.append(RunOption(b, None, b.nominal_tasks, relevant,
                                 round(b.nominal_tasks * share)))
        else:
            limit = math.ceil(TARGET_TASKS / len(parts))
            out.append(RunOption(b, limit, min(b.nominal_tasks, limit * len(parts)), relevant,
                                 limit * relevant))
    return sorted(out, key=lambda o: (not unsaturated(o.bench), saturation(o.bench) or 0.0
                                      if unsaturated(o.bench) else 0.0,
                                      -min(o.relevant_tasks, TARGET_TASKS), -o.relevant_parts))
