"""The shapes the core hands out (and the MCP tools return): runs, results, comparisons.
Field descriptions reach the agent through the tools' output schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class RunRequest(BaseModel):
    model: str = Field(description="Model id as list_models shows it")
    benchmark: str = Field(description="Benchmark id as list_benchmarks shows it")
    limit: int | None = Field(default=None, ge=1, description="Only the first N tasks (bfcl: of each category)")
    tasks: list[str] | None = Field(default=None, description="Only these task ids")
    n_samples: int = Field(default=1, ge=1, le=200, description="Samples per task (pass@k)")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0 = greedy")
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(default=768, ge=16, le=262144,
                            description="768 matches EvalPlus; raise it for reasoning models")
    seed: int | None = None
    concurrency: int | None = Field(default=None, ge=1, le=64,
                                    description="Requests at once; default: the server's slots")
    endpoint: str | None = Field(default=None, description="Endpoint URL or name, if ambiguous")
    mode: str | None = Field(default=None, description=(
        "BFCL: native (the tools field), prompting (calls as text), or auto (native "
        "where the endpoint does it). aider-polyglot: the edit format, or auto"))


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


class SampleView(BaseModel):
    task_id: str
    sample_index: int
    status: str = Field(description="pass, fail, error, timeout, or pending")
    base_status: str | None = Field(default=None, description="EvalPlus sets: base tests only")
    plus_status: str | None = Field(default=None, description="EvalPlus sets: base+plus tests")
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
        "Harness-specific evidence (BFCL: category, mode, decoded calls, the checker's "
        "error_type and the possible answers, each exchange with the model; aider-polyglot: "
        "language, edit format, each attempt's pass/fail and test output, malformed edits, "
        "syntax errors, test timeouts, tokens and time)"))


class Results(BaseModel):
    run: RunStatus
    metrics: dict[str, Any] = Field(
        description="scores (pass@k: value, ci95, n), scores_base for EvalPlus sets, verdict "
        "counts, truncated count, timing (wall_s, mean latency, ttft, tokens/s); `bfcl`: "
        "accuracy per category and BFCL's overall; `aider`: pass rate after attempt 1 and 2 "
        "(rate, ci95, n), debugging gain and well-formed share, per language and overall")
    samples: list[SampleView]
    offset: int
    total_samples: int
    next_offset: int | None = Field(description="Pass as offset for the next page; null at end")
