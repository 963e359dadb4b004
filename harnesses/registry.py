"""The benchmarks benchdock knows, by id: the built-in ones listed here, and any that other
installed packages publish under the `benchdock.benchmarks` entry-point group.

An entry point names a callable that returns a mapping of benchmark id to a factory (a
`BenchmarkBase` subclass or any zero-argument callable making one), e.g. in a plugin's
pyproject.toml:

    [project.entry-points."benchdock.benchmarks"]
    my-bench = "my_package:benchmarks"

A plugin that fails to load is logged and left out; it never breaks the built-in ones. An
unknown id is answered with the known ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from benchdock.harnesses.base import BenchmarkBase, Table
from benchdock.harnesses.config import Settings

log = logging.getLogger("benchdock.registry")

GROUP = "benchdock.benchmarks"
Factory = Callable[[], BenchmarkBase]


def builtin() -> dict[str, Factory]:
    from benchdock.harnesses.aider.harness import aider_benchmarks
    from benchdock.harnesses.bfcl.harness import bfcl_benchmarks
    from benchdock.harnesses.evalplus_sets import HumanEvalPlus, MbppPlus
    from benchdock.harnesses.humaneval import HumanEval
    from benchdock.harnesses.ifeval.harness import IfEval
    from benchdock.harnesses.repoqa.harness import repoqa_benchmarks
    from benchdock.harnesses.swe.harness import swe_benchmarks
    from benchdock.harnesses.swe.online_harness import online_benchmarks
    from benchdock.harnesses.testgen.benchmark import TestgenHumanEvalPlus

    return {
        "humaneval": HumanEval,
        "humaneval-plus": HumanEvalPlus,
        "mbpp-plus": MbppPlus,
        **bfcl_benchmarks(),
        **aider_benchmarks(),
        "ifeval": IfEval,
        **repoqa_benchmarks(),
        "testgen-humaneval-plus": TestgenHumanEvalPlus,
        **swe_benchmarks(),
        **online_benchmarks(),
    }


@cache
def plugins() -> tuple[tuple[str, Factory, str], ...]:
    """(id, factory, distribution) for every benchmark other packages publish."""
    out: list[tuple[str, Factory, str]] = []
    for ep in entry_points(group=GROUP):
        dist = ep.dist.name if ep.dist is not None else ep.value
        try:
            found = ep.load()
            table: Mapping[str, Factory] = found() if not isinstance(found, type) else {
                ep.name: found}
            for bench_id, factory in table.items():
                out.append((bench_id, factory, dist))
        except Exception:
            log.exception("benchmark plugin %s (%s) failed to load; left out", ep.name, dist)
    return tuple(out)


def registry() -> dict[str, Factory]:
    """Every benchmark by id; a plugin cannot replace a built-in one."""
    table = builtin()
    for bench_id, factory, dist in plugins():
        if bench_id in table:
            log.warning("plugin %s publishes benchmark %r, which already exists; ignored",
                        dist, bench_id)
            continue
        table[bench_id] = factory
    return table


class UnknownBenchmark(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def get_benchmark(name: str, settings: Settings | None = None) -> BenchmarkBase:
    table = registry()
    make = table.get(name) or table.get(name.replace("_", "-"))
    if make is None:
        raise UnknownBenchmark(f"unknown benchmark {name!r}; valid choices: {', '.join(table)}")
    return make().bind(settings)


def all_benchmarks(settings: Settings | None = None) -> list[BenchmarkBase]:
    return [make().bind(settings) for make in registry().values()]


def run_tables(benchmark: str, metrics: Mapping[str, Any] | None,
               params: Mapping[str, Any] | None) -> list[Table]:
    """A run's benchmark's own figures, as its declaration renders them (none when that
    benchmark is no longer installed: its figures stay in the metrics, raw)."""
    try:
        bench = get_benchmark(benchmark)
    except UnknownBenchmark:
        return []
    details = (metrics or {}).get(bench.details_key) if bench.details_key else None
    if not details:
        return []
    return bench.tables(details, dict((params or {}).get("options") or {}))


# the ids known at import (built-ins and installed plugins), for tests and listings
BENCHMARKS = registry()
