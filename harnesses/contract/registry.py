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

import importlib
import logging
from collections.abc import Callable, Mapping
from functools import cache
from importlib.metadata import entry_points
from typing import Any, cast

from benchdock.harnesses.config import Settings
from benchdock.harnesses.contract.benchmark import Benchmark, BenchmarkBase, Table
from benchdock.harnesses.sandbox.remote import remote_engine, remote_refusal

log = logging.getLogger("benchdock.registry")

GROUP = "benchdock.benchmarks"
Factory = Callable[[], BenchmarkBase]


# Built-in benchmarks by id, as "module:attribute" (imported on first use, as lm-eval's model
# registry does: listing ids or running one benchmark never imports the others). The
# attribute is the benchmark's class, or a family's function returning {id: factory}.
_EVALPLUS = "benchdock.harnesses.benchmarks.evalplus.benchmark"
_BFCL = "benchdock.harnesses.benchmarks.bfcl.benchmark:bfcl_benchmarks"
_AIDER = "benchdock.harnesses.benchmarks.aider.benchmark:aider_benchmarks"
_REPOQA = "benchdock.harnesses.benchmarks.repoqa.benchmark:repoqa_benchmarks"
_SWE_ONLINE = "benchdock.harnesses.benchmarks.swe.online_benchmark:online_benchmarks"
_TBENCH = "benchdock.harnesses.benchmarks.terminalbench.benchmark:tbench_benchmarks"
_BIGCODEBENCH = "benchdock.harnesses.benchmarks.bigcodebench.benchmark:bigcodebench_benchmarks"
BUILTIN: dict[str, str] = {
    "humaneval": f"{_EVALPLUS}:HumanEval",
    "humaneval-plus": f"{_EVALPLUS}:HumanEvalPlus",
    "mbpp-plus": f"{_EVALPLUS}:MbppPlus",
    **{i: _BIGCODEBENCH for i in ("bigcodebench-complete", "bigcodebench-instruct",
                                  "bigcodebench-complete-hard", "bigcodebench-instruct-hard")},
    **{i: _BFCL for i in (
        "bfcl", "bfcl-simple", "bfcl-simple-java", "bfcl-simple-javascript", "bfcl-multiple",
        "bfcl-parallel", "bfcl-parallel-multiple", "bfcl-irrelevance", "bfcl-live-simple",
        "bfcl-live-multiple", "bfcl-live-parallel", "bfcl-live-parallel-multiple",
        "bfcl-live-irrelevance", "bfcl-live-relevance", "bfcl-multi-turn-base",
        "bfcl-multi-turn-miss-func", "bfcl-multi-turn-miss-param", "bfcl-multi-turn-long-context",
        "bfcl-web-search-base", "bfcl-web-search-no-snippet", "bfcl-memory-kv",
        "bfcl-memory-vector", "bfcl-memory-rec-sum")},
    **{i: _AIDER for i in (
        "aider-polyglot", "aider-polyglot-cpp", "aider-polyglot-go", "aider-polyglot-java",
        "aider-polyglot-javascript", "aider-polyglot-python", "aider-polyglot-rust")},
    "ifeval": "benchdock.harnesses.benchmarks.ifeval.benchmark:IfEval",
    **{f"repoqa-{kind}{n}": _REPOQA for kind in ("", "local-") for n in ("4k", "8k", "16k", "32k")},
    "testgen-humaneval-plus": "benchdock.harnesses.benchmarks.testgen.benchmark:TestgenHumanEvalPlus",
    "swe-local": "benchdock.harnesses.benchmarks.swe.benchmark:SweLocal",
    **{i: _SWE_ONLINE for i in ("swe-verified", "swe-lite", "swe-mini")},
    **{i: _TBENCH for i in ("terminal-bench-local", "terminal-bench", "harbor-tasks")},
}


@cache
def _resolve(target: str, bench_id: str) -> Factory:
    """The factory `target` ("module:attribute") names for `bench_id`, imported now."""
    module, _, attr = target.partition(":")
    found = getattr(importlib.import_module(module), attr)
    if isinstance(found, type):
        return cast(Factory, found)
    family: Mapping[str, Factory] = found()
    return family[bench_id]


def builtin() -> dict[str, Factory]:
    """Every built-in benchmark's factory (this imports them all; `get_benchmark` imports
    only the one it is asked for)."""
    return {i: _resolve(target, i) for i, target in BUILTIN.items()}


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


def _plugin_table() -> dict[str, Factory]:
    """Plugins' benchmarks by id (entry points are scanned on first use, not at import); a
    plugin cannot replace a built-in one."""
    table: dict[str, Factory] = {}
    for bench_id, factory, dist in plugins():
        if bench_id in BUILTIN or bench_id in table:
            log.warning("plugin %s publishes benchmark %r, which already exists; ignored",
                        dist, bench_id)
            continue
        table[bench_id] = factory
    return table


def benchmark_ids() -> list[str]:
    """Every benchmark id, built-in first, without importing any benchmark's module."""
    return [*BUILTIN, *_plugin_table()]


def registry() -> dict[str, Factory]:
    """Every benchmark by id (importing every one of them)."""
    return {**builtin(), **_plugin_table()}


class UnknownBenchmark(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def get_benchmark(name: str, settings: Settings | None = None) -> BenchmarkBase:
    """One benchmark, made for `settings`; only its own module is imported."""
    for key in (name, name.replace("_", "-")):
        if key in BUILTIN:
            return _resolve(BUILTIN[key], key)().bind(settings)
    plugin = _plugin_table()
    make = plugin.get(name) or plugin.get(name.replace("_", "-"))
    if make is None:
        raise UnknownBenchmark(
            f"unknown benchmark {name!r}; valid choices: {', '.join(benchmark_ids())}")
    return make().bind(settings)


def all_benchmarks(settings: Settings | None = None) -> list[BenchmarkBase]:
    return [make().bind(settings) for make in registry().values()]


def remote_capable() -> list[str]:
    """What runs against a Docker engine on another machine: the benchmarks benchdock scores
    in its sandbox (each sample's code goes over the engine's API) that mount nothing of
    this machine, by family (`repoqa-*` for a family of several). Imports every built-in."""
    families: dict[str, list[str]] = {}
    for bench_id in BUILTIN:
        bench = get_benchmark(bench_id)
        if isinstance(bench, Benchmark) and bench.host_mounts is None:
            families.setdefault(bench.family, []).append(bench_id)
    return [ids[0] if len(ids) == 1 else f"{fam}-*" for fam, ids in families.items()]


def host_mount_refusal(bench: BenchmarkBase) -> str | None:
    """Why `bench` cannot run on the configured Docker engine (it is on another machine and
    `bench` bind-mounts paths of this one), or None."""
    if bench.host_mounts is None or remote_engine() is None:
        return None
    return remote_refusal(bench.id, bench.host_mounts, bench.settings.sandbox, remote_capable())


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
