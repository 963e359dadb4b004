"""What `decide` takes and returns. Field descriptions reach the agent through the tool's
schemas, so they say how to read each figure."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from benchdock.harnesses.contract.compact import Compact

Priorities = str | dict[str, float] | None


class DecideRequest(BaseModel):
    models: Annotated[list[str], Field(min_length=2, max_length=12, description=(
        "Model ids (list_models), 2 to 12"))]
    budget_minutes: Annotated[float, Field(gt=0, description=(
        "Time the whole decision may take, in minutes of runs"))]
    priorities: Annotated[Priorities, Field(description=(
        "A profile (agentic-coding, autocomplete, tool-heavy-agent, balanced) or weights per "
        "dimension; picks the benchmarks, shares the budget"))] = None
    margin: Annotated[float, Field(ge=0, lt=1, description=(
        "Pass-rate differences smaller than this do not matter: models within +-margin are "
        "'equivalent'"))] = 0.05
    confidence: Annotated[float, Field(gt=0.5, lt=1, description=(
        "Probability that every interval holds at all times (per dimension)"))] = 0.95
    benchmarks: Annotated[list[str] | None, Field(description=(
        "Only these benchmarks (default: for each weighted dimension, the broadest ready "
        "benchmark that measures it)"))] = None
    tasks_per_benchmark: Annotated[int | None, Field(ge=2, description=(
        "Decide on a seeded random subset of this many tasks per benchmark (the verdict is "
        "then about that subset)"))] = None
    batch: Annotated[int | None, Field(ge=1, le=500, description=(
        "Tasks per model per batch (default 8; more where models swap, so switches stay "
        "under 10% of the time)"))] = None
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


class ModelRate(Compact):
    model: str
    rate: float = Field(description="Its own pass rate on the tasks used so far")
    ci95: list[float] = Field(description="95% interval (Wilson; per look, not anytime)")
    n: int


class DimensionDecision(Compact):
    dimension: str
    weight: float = Field(description="Its share of the priorities")
    benchmark: str
    status: Literal["separated", "equivalent", "open", "undecided at budget", "failed",
                    "not informative"]
    winner: str | None = Field(default=None, description="Separated above every other model")
    equivalent: list[str] | None = Field(default=None, description=(
        "Models whose differences are provably within the margin"))
    intervals: list[PairInterval]
    rates: list[ModelRate] = Field(default_factory=list, description=(
        "Each model's own rate beside the paired differences"))
    note: str | None = Field(default=None, description=(
        "e.g. why it is not informative (every model at the floor or the ceiling)"))
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


class Screening(Compact):
    """How more than four models became four: their first tasks, then the leaders."""

    models: int
    tasks_per_benchmark: int
    rates: dict[str, float] = Field(description="Each model's weighted pass rate there")
    leaders: list[str]
    rule: str
    minutes: float


class Decision(Compact):
    decision_id: str
    status: Literal["queued", "running", "finished", "failed", "cancelled"] = Field(
        description=("running: it goes on in the background (the worker queues the batches); "
                     "call decide again, same arguments, for its state"))
    verdict: str = Field(description="The overall answer in one sentence")
    winner: str | None = None
    choice: str | None = Field(default=None, description=(
        "The model to use: the winner, or among equivalent models the one the tie rule "
        "picks"))
    choice_rule: str | None = None
    overall: list[PairInterval] = Field(description=(
        "Priority-weighted difference per pair: the weighted sum of the dimensions' "
        "intervals (holds when all of them hold)"))
    dimensions: list[DimensionDecision]
    benchmarks: list[BenchmarkSpend]
    minutes: float
    budget_minutes: float | None = None
    eta_minutes: float | None = Field(default=None, description=(
        "Estimated minutes left (at most the budget left)"))
    full_minutes: float
    time_ratio: float | None = Field(default=None, description="minutes / full_minutes")
    screening: Screening | None = None
    not_decided: list[str] | None = Field(default=None, description=(
        "Weighted dimensions left out, and the set-up that would let them count"))
    notes: list[str]
    extra: dict[str, Any] | None = None
    view_url: str | None = Field(default=None, description=(
        "The decision and its intervals in the viewer (`benchdock view`), when one serves "
        "this store here"))
