"""The benchmarks benchdock knows, by id. An unknown id is answered with the known ones."""

from __future__ import annotations

from collections.abc import Callable

from benchdock.harnesses.aider.harness import aider_benchmarks
from benchdock.harnesses.base import BenchmarkBase
from benchdock.harnesses.bfcl.harness import bfcl_benchmarks
from benchdock.harnesses.evalplus_sets import HumanEvalPlus, MbppPlus
from benchdock.harnesses.humaneval import HumanEval

BENCHMARKS: dict[str, Callable[[], BenchmarkBase]] = {
    "humaneval": HumanEval,
    "humaneval-plus": HumanEvalPlus,
    "mbpp-plus": MbppPlus,
    **bfcl_benchmarks(),
    **aider_benchmarks(),
}


class UnknownBenchmark(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def get_benchmark(name: str) -> BenchmarkBase:
    make = BENCHMARKS.get(name) or BENCHMARKS.get(name.replace("_", "-"))
    if make is None:
        raise UnknownBenchmark(f"unknown benchmark {name!r}; valid choices: {', '.join(BENCHMARKS)}")
    return make()


def all_benchmarks() -> list[BenchmarkBase]:
    return [make() for make in BENCHMARKS.values()]
