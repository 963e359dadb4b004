"""What `decide` takes and returns. Field descriptions reach the agent through the tool's
schemas, so they say how to read each figure."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from benchdock.harnesses.compact import Compact

Priorities = str | dict[str, float] | None


class DecideRequest(BaseModel):
    models: Annotated[list[str], Field(min_length=2, max_length=4, description=(
        "The candidate model ids (list_models), 2 to 4"))]
    budget_minutes: Annotated[float, Field(gt=0, description=(
        "Time the whole decision may take, in minutes of runs"))]
    priorities: Annotated[Priorities, Field(description=(
        "A profile (agentic-coding, autocomplete, tool-heavy-agent, balanced) or weights per "
        "dimension; it picks the benchmarks and shares the budget"))] = None
    margin: Annotated[float, Field(ge=0, lt=1, description=(
        "Differences in pass rate smaller than this do not matter: models whose whole "
        "interval lies within +-margin are 'equivalent'"))] = 0.05
    confidence: Annotated[float, Field(gt=0.5, lt=1, description=(
        "Probability that every interval holds at all times (per dimension)"))] = 0.95
    benchmarks: Annotated[list[str] | None, Field(description=(
        "Only these benchmarks (default: for each weighted dimension, the broadest ready "
        "benchmark that measures it)"))] = None
    tasks_per_benchmark: Annotated[int | None, Field(ge=2, description=(
        "Decide on a seeded random subset of this many tasks per benchmark instead of all "
        "of it (the verdict is then about that subset)"))] = None
    batch: Annotated[int | None, Field(ge=1, le=500, description=(
        "Tasks per model per batch (default: 8, more on endpoints that swap models so that "
        "switches stay under 10% of the time)"))] = None
    seed: Annotated[int, Field(description="Seed of the task order")] = 0
    max_tokens: Annotated[int | None, Field(ge=16, le=262144, description=(
        "Tokens per answer (default: each benchmark's)"))] = None


class PairInterval(Compact):
    a: str
    b: str
    lower: float = Field(description="Lower bound of a's pass rate minus b's (anytime-valid)")
    upper: float
    tasks: int = Field(description="Paired tasks behind it")
    verdict: str


class DimensionDecision(Compact):
    dimension: str
    weight: float = Field(description="Its share of the priorities")
    benchmark: str
    status: Literal["separated", "equivalent", "open", "undecided at budget", "failed"]
    winner: str | None = Field(default=None, description="Separated above every other model")
    equivalent: list[str] | None = Field(default=None, description=(
        "Models whose differences are provably within the margin"))
    intervals: list[PairInterval]
    tasks: int = Field(description="Tasks per model used so far")
    population: int = Field(description="Tasks of the benchmark that count for the dimension")


class BenchmarkSpend(Compact):
    benchmark: str
    status: str = Field(description="running, decided, budget spent, exhausted or failed")
    reason: str | None = None
    batch: int = Field(description="Tasks per model per batch")
    batches: int
    tasks_per_model: int
    population: int
    minutes: float = Field(description="Measured minutes of the runs used")
    full_minutes: float = Field(description=(
        "Estimated minutes for the whole benchmark on every model (from measured per-task "
        "times where there are any)"))
    estimate_basis: str
    switch_s: float | None = Field(default=None, description=(
        "Measured seconds to switch models on this endpoint (swapping servers only)"))
    runs: list[str]
    cancelled: dict[str, str] | None = Field(default=None, description="run id -> why")


class Decision(Compact):
    decision_id: str
    status: Literal["running", "finished"] = Field(description=(
        "running: call decide again with the same arguments to continue (runs carry on in "
        "the background and are reused)"))
    verdict: str = Field(description="The overall answer in one sentence")
    winner: str | None = None
    overall: list[PairInterval] = Field(description=(
        "Priority-weighted difference per pair: the weighted sum of the dimensions' "
        "intervals (holds when all of them hold)"))
    dimensions: list[DimensionDecision]
    benchmarks: list[BenchmarkSpend]
    minutes: float
    full_minutes: float
    time_ratio: float | None = Field(default=None, description="minutes / full_minutes")
    notes: list[str]
    extra: dict[str, Any] | None = None
