"""The shapes the core hands out (and the MCP tools return): runs, results, comparisons.
Field descriptions reach the agent through the tools' output schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from benchdock.harnesses.contract.benchmark import Table
from benchdock.harnesses.runspec import RunRequest

__all__ = ["Results", "RunRequest", "RunStatus", "SampleView"]


class RunStatus(BaseModel):
    run_id: str
    status: str = Field(description="queued, running, succeeded, failed or cancelled")
    model: str
    benchmark: str
    endpoint: str
    done: int = Field(description="Samples scored so far")
    total: int = Field(description="Samples in the run (tasks x n_samples)")
    elapsed_s: float | None = None
    eta_s: float | None = Field(default=None, description="Estimated seconds left")
    error: str | None = None
    sandbox: str | None = Field(default=None, description="docker or local")
    isolation: str | None = Field(default=None, description=(
        "What confined the model's code in this run (e.g. the Docker limits, bubblewrap's "
        "namespaces, or an unisolated local subprocess)"))
    cancel_requested: bool = False
    created_at: datetime
    finished_at: datetime | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    view_url: str | None = Field(default=None, description=(
        "The run in the viewer (`benchdock view`), when one serves this store here"))


class SampleView(BaseModel):
    task_id: str
    sample_index: int
    status: str = Field(description="pass, fail, error, timeout, or pending")
    base_status: str | None = Field(default=None, description=(
        "Benchmarks with a base and an extended test set: the base tests only"))
    plus_status: str | None = Field(default=None, description=(
        "Benchmarks with a base and an extended test set: base + extended tests"))
    detail: str | None = Field(default=None, description="The failing test or error text")
    code: str | None = Field(default=None, description="Code extracted from the answer")
    truncated: bool = Field(default=False, description="Answer cut off by max_tokens")
    finish_reason: str | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    completion_tokens: int | None = None
    cached: bool = False
    completion: str | None = Field(default=None, description="Raw answer (include_raw=true)")
    reasoning: str | None = Field(default=None, description="Thinking, kept apart from the answer")
    evidence: dict[str, Any] | None = Field(default=None, description=(
        "The benchmark's own evidence for this sample (e.g. decoded calls and the checker's "
        "error, each attempt's test output and the test runner's report, each exchange "
        "with the model)"))


class Results(BaseModel):
    run: RunStatus
    metrics: dict[str, Any] = Field(
        description="scores (pass@k: value, ci95, n), scores_base where a benchmark has a base "
        "test set, verdict counts, truncated count, timing (wall_s, mean latency, ttft with "
        "ttft_sources: how many requests took it from the server's own timings, from a "
        "streamed request, or have none; tokens/s), and under the benchmark's own key its own figures (see `tables`)")
    tables: list[Table] = Field(default_factory=list, description=(
        "The benchmark's own figures as tables (per category, per language, ...)"))
    samples: list[SampleView]
    offset: int
    total_samples: int
    next_offset: int | None = Field(description="Pass as offset for the next page; null at end")
