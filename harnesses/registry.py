"""The benchmarks benchdock knows, by id. An unknown id is answered with the known ones."""

from __future__ import annotations

from collections.abc import Callable

from benchdock.harnesses.base import Benchmark
from benchdock.harnesses.evalplus_sets import HumanEvalPlus, MbppPlus
from benchdock.harnesses.humaneval import HumanEval

BENCHMARKS: dict[str, Callable[[], Benchmark]] = {
    "humaneval": HumanEval,
    "humaneval-plus": HumanEvalPlus,
    "mbpp-plus": MbppPlus,
}


class UnknownBenchmark(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def get_benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]()
    except KeyError:
        raise UnknownBenchmark(
            f"unknown benchmark {name!r}; valid choices: {', '.join(BENCHMARKS)}"
        ) from None


def all_benchmarks() -> list[Benchmark]:
    return [make() for make in BENCHMARKS.values()]
