"""What the store does not hold of a task: its prompt (in the benchmark's dataset) and its
part (a BFCL category, an Aider language: the benchmark's declaration says).

Prompts are read from the benchmark as installed here, once per benchmark and dataset, and
kept: a viewer started beside long runs should not load a dataset on every page. When the
dataset here is not the one the run used (its hash differs) or cannot be loaded, the page
says so instead of showing another prompt.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from benchdock.harnesses.config import Settings
from benchdock.harnesses.contract.benchmark import BenchmarkBase
from benchdock.harnesses.contract.registry import UnknownBenchmark, get_benchmark
from benchdock.store.tables import Run

log = logging.getLogger("benchdock.viewer")


@dataclass
class Prompts:
    """A benchmark's prompts by task id, or why there are none."""

    by_task: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    dataset_hash: str | None = None

    def for_run(self, run: Run) -> tuple[dict[str, str], str | None]:
        """The prompts, and a note when they may not be the ones this run was asked."""
        if self.dataset_hash and run.dataset_hash != self.dataset_hash:
            return self.by_task, (f"the dataset installed here (hash {self.dataset_hash[:12]}) "
                                  f"is not the run's ({run.dataset_hash[:12]})")
        return self.by_task, None

    def context(self, run: Run, task_id: str) -> dict[str, str | None]:
        """What a page shows of a task's prompt: the prompt, a note on it, or why none."""
        prompts, note = self.for_run(run)
        return {"prompt": prompts.get(task_id), "prompt_note": note,
                "prompt_problem": self.problem}


class TaskInfo:
    """Benchmarks' declarations and prompts, loaded on first use and kept."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._benches: dict[str, BenchmarkBase | None] = {}
        self._prompts: dict[str, Prompts] = {}

    def bench(self, benchmark: str) -> BenchmarkBase | None:
        with self._lock:
            if benchmark not in self._benches:
                try:
                    self._benches[benchmark] = get_benchmark(benchmark, self.settings)
                except UnknownBenchmark:
                    self._benches[benchmark] = None
            return self._benches[benchmark]

    def parts(self, run: Run) -> dict[str, str]:
        """task id -> part, for the run's tasks ({} when the benchmark is not installed or
        is one part)."""
        bench = self.bench(run.benchmark)
        if bench is None:
            return {}
        try:
            parts = {t: bench.part(t) for t in run.task_ids}
        except Exception as exc:  # a plugin's part() must not break a page
            log.warning("%s: part() failed: %s", run.benchmark, exc)
            return {}
        return parts if len(set(parts.values())) > 1 else {}  # one part: nothing to tell

    def prompts(self, benchmark: str) -> Prompts:
        with self._lock:
            cached = self._prompts.get(benchmark)
        if cached is not None:
            return cached
        got = self._load(benchmark)
        with self._lock:
            self._prompts[benchmark] = got
        return got

    def _load(self, benchmark: str) -> Prompts:
        bench = self.bench(benchmark)
        if bench is None:
            return Prompts(problem=f"{benchmark} is not installed here: its prompts are unknown")
        try:
            tasks = bench.tasks()
            digest = bench.dataset_hash()
        except Exception as exc:  # no data here (no download, no override path): say so
            return Prompts(problem=f"{benchmark}'s dataset could not be loaded here: {exc}")
        return Prompts(by_task={t.id: t.prompt for t in tasks}, dataset_hash=digest)

    def matching(self, run: Run, text: str) -> Sequence[str]:
        """The run's tasks whose prompt contains `text` (case-insensitive)."""
        prompts, _ = self.prompts(run.benchmark).for_run(run)
        needle = text.lower()
        wanted = set(run.task_ids)
        return [t for t, p in prompts.items() if t in wanted and needle in p.lower()]
