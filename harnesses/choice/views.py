"""The shapes the choice tools return. Field descriptions reach the agent through the tools'
output schemas, so they say how to read each figure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from benchdock.harnesses.contract.benchmark import Footprint
from benchdock.harnesses.contract.compact import Compact


class RunRef(Compact):
    """Where a figure comes from."""

    run_id: str
    model: str
    benchmark: str
    benchmark_version: str = Field(description="Harness and dataset version")
    finished_at: datetime | None = None
    endpoint: str
    settings: dict[str, Any] = Field(description="Sampling and asking settings of the run")
    tasks: int


class Source(Compact):
    run_id: str = Field(description="Key into `runs` (the newest, when pooled)")
    benchmark: str
    metric: str
    parts: list[str] = Field(description="Parts of the benchmark used (BFCL categories, languages)")
    n: int
    pooled_runs: list[str] | None = Field(default=None, description=(
        "The runs pooled here (same model, part and settings), newest first"))


class Significance(Compact):
    against: str = Field(description="The model compared with: this dimension's leader")
    paired: bool = Field(description=(
        "true: both ran the same tasks and the test pairs them (exact sign test / McNemar); "
        "false: no shared tasks, an unpaired two-sample test"))
    n_shared: int = Field(description="Tasks both models ran (paired tests only)")
    wins: int | None = Field(default=None, description="Shared tasks where this model did better")
    losses: int | None = Field(default=None, description="Shared tasks where it did worse")
    difference: float = Field(description="This model's score minus the leader's")
    p_value: float
    significant: bool = Field(description="p < 0.05 (not corrected for multiple comparisons)")
    verdict: str


class NotMeasured(Compact):
    reason: str
    measured_by: str | None = Field(default=None, description=(
        "The benchdock benchmark that would measure it (null: none does yet): the broadest, "
        "then the quickest here"))
    limit: int | None = Field(default=None, description="Its limit for a first informative run")
    tasks: int | None = Field(default=None, description="Tasks that run would score")
    estimate_minutes: float | None = Field(default=None, description=(
        "That run's estimated time on this endpoint"))
    estimate_basis: str | None = Field(default=None, description="What the estimate rests on")
    setup: str | None = Field(default=None, description=(
        "The set-up that run needs first (none of those that can run now measures it)"))


class HowToMeasure(BaseModel):
    benchmarks: list[str] = Field(description=(
        "benchdock benchmarks that measure the dimension, best first (empty: none yet)"))
    elsewhere: list[str] = Field(description=(
        "Public benchmarks that isolate it, in benchdock or not"))


class DimensionCell(Compact):
    measured: bool
    score: float | None = Field(default=None, description="Mean outcome over the pooled tasks, 0..1")
    ci95: list[float] | None = None
    n: int = Field(default=0, description="Tasks behind the score")
    sources: list[Source] = Field(default_factory=list)
    settings_differ: str | None = Field(default=None, description=(
        "Set when the runs pooled here used different settings (apples and oranges)"))
    vs_leader: Significance | None = None
    not_measured: NotMeasured | None = None


class Speed(Compact):
    tokens_per_s: float | None = Field(default=None, description=(
        "Generated tokens per second of decoding (absent: not measured)"))
    ttft_s: float | None = Field(default=None, description=(
        "Mean time to first token (servers that report it)"))
    wall_s_per_task: float | None = Field(default=None, description="Run wall time per task, as run here")
    runs: int = Field(description="Succeeded runs these figures come from")
    failed_requests: int | None = Field(default=None, description=(
        "Requests to the endpoint that failed in those runs (retried or not)"))
    retry_lost_s: float | None = Field(default=None, description="Seconds lost to them")


class ModelRow(Compact):
    model: str
    context_size: int | None = None
    dimensions: dict[str, DimensionCell]
    speed: Speed


class DimensionComparison(BaseModel):
    dimensions: list[str]
    models: list[ModelRow] = Field(description=(
        "One page of models, best mean measured score first (or in the order asked)"))
    total_models: int = Field(description="Models in the comparison, across pages")
    offset: int
    next_offset: int | None = Field(description="Pass as offset for the next page; null at end")
    leaders: dict[str, str | None] = Field(description=(
        "Best measured model per dimension, over all models compared (not just this page)"))
    how_to_measure: dict[str, HowToMeasure] = Field(description=(
        "Per dimension not measured for some model on this page: what would measure it"))
    runs: dict[str, RunRef] = Field(description="Provenance of every run used, by run_id")
    notes: list[str]
    view_url: str | None = Field(default=None, description=(
        "This comparison in the viewer (`benchdock view`), when one serves this store here"))


class Constraints(BaseModel):
    min_tokens_per_s: float | None = Field(default=None, ge=0, description=(
        "Generated tokens/s, at least"))
    max_ttft_s: float | None = Field(default=None, gt=0, description=(
        "Mean time to first token, at most"))
    context_needed: int | None = Field(default=None, ge=1, description=(
        "Context size the job needs, at least"))
    max_wall_s_per_task: float | None = Field(default=None, gt=0)


class Ranked(BaseModel):
    rank: int
    model: str
    score: float = Field(description="Priority-weighted mean of the measured dimensions")
    ci95: list[float]
    coverage: float = Field(description="Share of the priority weight that was measured")
    dimensions: dict[str, float | None] = Field(description="Dimension scores used (null: not measured)")
    tokens_per_s: float | None
    pareto: bool = Field(description="On the quality/speed Pareto front")
    reason: str


class Excluded(BaseModel):
    model: str
    reason: str


class NextRun(BaseModel):
    models: list[str] = Field(description="Run it on each of these (same tasks: paired)")
    benchmark: str
    limit: int | None = Field(description="Pass to run_benchmark (null: the whole benchmark)")
    dimension: str = Field(description="The dimension that decides between the top candidates")
    estimate_minutes: float | None = Field(description="For all of the models, on this endpoint")
    why: str
    setup: str | None = Field(default=None, description=(
        "The set-up it needs first (setup_benchmark), with its cost; null: it can run now"))


class Recommendation(BaseModel):
    priorities: dict[str, float] = Field(description="Dimension weights used (sum 1)")
    profile: str | None
    ranking: list[Ranked]
    excluded: list[Excluded]
    pareto_front: list[str] = Field(description="Models no other beats on both quality and speed")
    separated: bool | None = Field(description=(
        "Whether the evidence separates #1 from #2 (null: fewer than two candidates)"))
    next_run: NextRun | None = Field(description=(
        "When not separated: the cheapest run that would measure the deciding dimension"))
    tie_rule: str = Field(description="How models with the same score are ordered")
    summary: str


class PlannedRun(BaseModel):
    order: int
    model: str
    benchmark: str
    limit: int | None = Field(description="Pass to run_benchmark (per category/language on suites)")
    tasks: int
    estimate_minutes: float
    estimate_basis: str
    dimensions: list[str] = Field(description="Dimensions this run measures for the model")
    why: str
    footprint: Footprint | None = Field(default=None, description=(
        "What this run downloads first (e.g. SWE-bench's images: count, GB, disk); its "
        "download time is in the estimate of the benchmark's first planned run"))


class ModelTime(BaseModel):
    model: str
    estimate_minutes: float
    estimate_basis: str


class DryRun(BaseModel):
    """What one benchmark run would pull, need on disk and take, before anything runs."""

    benchmark: str
    tasks: int
    limit: int | None
    ready: bool
    why_not: str | None = None
    footprint: Footprint | None = Field(description="Downloads and disk (None: nothing large)")
    per_model: list[ModelTime] = Field(description="Time of the run per model, without the "
                                       "download")
    total_hours: float = Field(description="All models one after another, plus the download")


class Uncovered(Compact):
    """Dimensions a plan cannot cover, grouped by why (said once for all the models)."""

    reason: str
    models: list[str]
    dimensions: list[str]
    setup: str | None = Field(default=None, description=(
        "The set-up that would let the plan cover them (setup_benchmark), with its cost"))


class EvaluationPlan(BaseModel):
    budget_minutes: float
    planned_minutes: float
    runs: list[PlannedRun] = Field(description="Queue these in order with run_benchmark")
    uncovered: list[Uncovered] = Field(description="What it cannot cover, grouped by reason")
    priorities: dict[str, float]
    notes: list[str]
