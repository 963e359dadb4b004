"""What a benchmark is: one declaration that says its name, version, dimensions and needs,
how to list its tasks, how to ask the model, and how to judge the answer.

Adding a benchmark means writing one subclass and listing it in `registry`; nothing else
changes. Every benchmark passes the same contract test: its reference answer scores
`pass`, a wrong answer does not.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal

from pydantic import BaseModel, Field

from benchdock.harnesses.dimensions import DIMENSIONS, DimensionMetric, DimensionRow
from benchdock.harnesses.sandbox import Sandbox

__all__ = ["DIMENSIONS", "BenchmarkBase", "BenchmarkInfo", "DatasetUnavailable", "Task", "Verdict"]

VerdictName = Literal["pass", "fail", "error", "timeout"]


class Task(BaseModel):
    id: str
    prompt: str
    entry_point: str
    data: dict[str, Any] = Field(default_factory=dict, exclude=True)


class Verdict(BaseModel):
    verdict: VerdictName
    base: VerdictName | None = None
    plus: VerdictName | None = None
    detail: str | None = None
    exec_s: float = 0.0


class BenchmarkInfo(BaseModel):
    id: str = Field(description="Pass this to run_benchmark")
    title: str
    description: str
    dimensions: list[str] = Field(description="Which of the ten capability dimensions it measures")
    task_count: int
    needs: list[str] = Field(description="What it requires: docker (recommended), download, ...")
    metrics: list[str] = Field(description="Metric names get_results reports")
    cost: str = Field(description="Rough cost: requests and tokens per full run")
    version: str
    dimension_map: list[DimensionRow] = Field(description=(
        "Which metric of this benchmark measures which dimension (what compare_dimensions "
        "and recommend_model use)"))
    family: str = Field(description=(
        "Benchmarks of one family share tasks (bfcl and bfcl-simple): per task, the newest "
        "run of the family counts"))


class DatasetUnavailable(RuntimeError):
    """The dataset cannot be loaded here (e.g. no internet for a download); says what to do."""


class BenchmarkBase(ABC):
    """What every benchmark declares, however its samples are solved and judged."""

    id: str
    title: str
    description: str
    dimensions: tuple[str, ...]
    needs: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ("pass@1",)
    nominal_tasks: int
    cost: str = ""
    # rough per-task cost for time estimates before anything was measured on the endpoint
    requests_per_task: float = 1.0
    tokens_per_request: int = 300
    exec_s_per_task: float = 0.5

    @property
    def family(self) -> str:
        """Benchmarks that share task ids share a family (a suite and its parts)."""
        return self.id

    def part(self, task_id: str) -> str:
        """Which part of the family a task belongs to (a BFCL category, an Aider language)."""
        return self.family

    @property
    def parts(self) -> tuple[str, ...]:
        """The parts this benchmark runs (`limit` applies per part on suites)."""
        return (self.family,)

    def dimension_metrics(self) -> tuple[DimensionMetric, ...]:
        """The map rows: by default, pass@1 measures each declared dimension."""
        return tuple(DimensionMetric(d, "pass@1", "share of tasks whose answer passes")
                     for d in self.dimensions)

    def readiness(self) -> str | None:
        """What is missing on this machine to run it (cheap: no download), or None."""
        return None

    @property
    @abstractmethod
    def version(self) -> str: ...

    @abstractmethod
    def tasks(self) -> list[Task]:
        """All tasks in dataset order (loads the dataset; may download it)."""

    @abstractmethod
    def dataset_hash(self) -> str: ...

    def first(self, ids: list[str], limit: int) -> list[str]:
        """What `limit` keeps of the task ids (in order): the first N."""
        return ids[:limit]

    def info(self) -> BenchmarkInfo:
        return BenchmarkInfo(
            id=self.id, title=self.title, description=self.description,
            dimensions=list(self.dimensions), task_count=self.nominal_tasks,
            needs=list(self.needs), metrics=list(self.metrics), cost=self.cost,
            version=self.version, family=self.family,
            dimension_map=[m.row() for m in self.dimension_metrics()],
        )


class Benchmark(BenchmarkBase):
    """One chat request per sample, benchdock extracts the code and scores it in the sandbox."""

    @abstractmethod
    def messages(self, task: Task) -> list[dict[str, str]]:
        """The chat request for one task."""

    @abstractmethod
    def extract(self, task: Task, completion: str) -> str:
        """The code to run, taken out of the model's answer."""

    @abstractmethod
    def reference(self, task: Task) -> str:
        """A known-right answer, as a model would give it (for contract tests and timing)."""

    def prepare(self, sandbox: Sandbox, tasks: list[Task]) -> None:
        """Once per run before scoring: install checker code, compute expected outputs."""

    @abstractmethod
    def score(self, task: Task, code: str, sandbox: Sandbox) -> Verdict: ...
