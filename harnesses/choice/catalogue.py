"""The benchmarks as the choice code sees them: which measure which dimension, and the run
that would measure one without running a whole suite. Built once from the registry, so a new
harness appears here by being registered."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from benchdock.harnesses.base import BenchmarkBase
from benchdock.harnesses.registry import all_benchmarks

# tasks a first informative run aims at: a 95% interval about +-0.1 wide at worst
TARGET_TASKS = 100


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


def run_options(dimension: str) -> list[RunOption]:
    """One option per benchmark that measures `dimension` and runs offline: the whole
    benchmark when it is small, else a per-part `limit` giving about TARGET_TASKS tasks;
    those with the most tasks that count for the dimension (up to TARGET_TASKS) first, then
    the broadest (most relevant parts)."""
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
    return sorted(out, key=lambda o: (-min(o.relevant_tasks, TARGET_TASKS), -o.relevant_parts))
