"""SQLModel tables.

A run records its full identity (benchmark and dataset version, model identity, sampling
settings) so comparisons can tell like from unlike. A sample row exists once per
(run, task, sample index): the unique constraint is what makes a resumed run score every
task exactly once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

RUN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
FINAL_STATUSES = ("succeeded", "failed", "cancelled")
VERDICTS = ("pass", "fail", "error", "timeout")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Run(SQLModel, table=True):
    id: str = Field(primary_key=True)
    benchmark: str = Field(index=True)
    benchmark_version: str
    dataset_hash: str
    model: str = Field(index=True)
    endpoint_url: str
    model_identity: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    task_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    n_samples: int = 1
    concurrency: int = 1
    sandbox_requested: str = "auto"
    sandbox_used: str | None = None
    isolation: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(default="queued", index=True)
    total: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))
    cancel_requested: bool = False
    worker_pid: int | None = None
    heartbeat_at: datetime | None = None
    # the claim: which worker holds the run, until when (the database's clock), and how many
    # of its endpoint's request slots it holds meanwhile (see store/queue.py)
    worker_id: str | None = Field(default=None, sa_column=Column(Text))
    lease_until: datetime | None = None
    slots: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    metrics: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class Sample(SQLModel, table=True):
    # (run_id, verdict): a run's progress (scored samples) and its verdict counts are read
    # from this index alone, without the rows (their answers and evidence are large)
    __table_args__ = (UniqueConstraint("run_id", "task_id", "sample_index"),
                      Index("ix_sample_run_verdict", "run_id", "verdict"))

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", index=True)
    task_id: str
    sample_index: int = 0
    seq: int = 0
    generation_key: str | None = None
    completion: str | None = Field(default=None, sa_column=Column(Text))
    reasoning: str | None = Field(default=None, sa_column=Column(Text))
    code: str | None = Field(default=None, sa_column=Column(Text))
    finish_reason: str | None = None
    truncated: bool = False
    cached: bool = False
    latency_s: float | None = None
    ttft_s: float | None = None
    completion_tokens: int | None = None
    generated_at: datetime | None = None
    verdict: str | None = Field(default=None, index=True)
    base_verdict: str | None = None
    plus_verdict: str | None = None
    detail: str | None = Field(default=None, sa_column=Column(Text))
    exec_s: float | None = None
    scored_at: datetime | None = None
    # evidence a harness keeps beyond the common fields (BFCL: decoded calls, the checker's
    # error type, the possible answers, every exchange with the model)
    extra: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class Generation(SQLModel, table=True):
    """The generation cache: one model answer per request identity."""

    key: str = Field(primary_key=True)
    model: str
    content: str = Field(sa_column=Column(Text))
    reasoning: str | None = Field(default=None, sa_column=Column(Text))
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    tool_calls: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)


class SchemaMigration(SQLModel, table=True):
    name: str = Field(primary_key=True)
    applied_at: datetime = Field(default_factory=utcnow)


class RunSummary(SQLModel, table=True):
    """What the comparison needs of a finished run, computed once when it ends: its identity,
    settings and speed, without its samples. `version` is the evidence format's: a store made
    by an older release is summarised again when it changes."""

    __tablename__ = "run_summary"

    run_id: str = Field(primary_key=True, foreign_key="run.id")
    version: int
    model: str = Field(index=True)
    benchmark: str
    family: str
    benchmark_version: str
    endpoint_url: str
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    context_size: int | None = None
    finished_at: datetime | None = None
    tasks: int = 0
    concurrency: int = 1
    wall_s: float | None = None
    fresh: int = 0  # samples that asked the model (not answered from the cache)
    generated_tokens: int = 0
    decode_s: float = 0.0
    ttft_sum: float = 0.0
    ttft_n: int = 0


class DimensionEvidence(SQLModel, table=True):
    """One run's outcomes for one row of the dimension map, on one part of its benchmark (a
    BFCL category, an Aider language). `outcomes` holds one character per task in run order:
    '1' or '0' when every task's outcome is binary; otherwise `values` holds the per-task
    means (n_samples > 1). `task_ids` (newline-joined) lets two runs over different task
    lists be paired on the tasks they share."""

    __tablename__ = "dimension_evidence"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", index=True)
    dimension: str
    metric: str
    part: str
    n: int
    total: float
    outcomes: str = Field(default="", sa_column=Column(Text))
    values: list[float] | None = Field(default=None, sa_column=Column(JSON))
    tasks_hash: str
    task_ids: str = Field(default="", sa_column=Column(Text))


class Worker(SQLModel, table=True):
    """A worker process, on this machine or another: what it serves and when it last spoke.
    It is alive while `heartbeat_at + lease_s` is in the future and it has not stopped."""

    id: str = Field(primary_key=True)
    host: str
    pid: int
    home: str = Field(sa_column=Column(Text))
    endpoints: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    max_runs: int = 1
    lease_s: float = 30.0
    started_at: datetime = Field(default_factory=utcnow)
    heartbeat_at: datetime = Field(default_factory=utcnow)
    stopped_at: datetime | None = None


class Job(SQLModel, table=True):
    """Work that is not a run but must outlive the call that asked for it: setting benchmarks
    up (venvs, images, datasets) and an adaptive decision's loop. Queued, claimed by the
    worker of the machine that queued it (its `host`: a venv is built where it will be
    used), followed through `done`/`total`/`message` and its log, cancellable. `key` makes
    asking twice for the same work find the same job (idempotent)."""

    id: str = Field(primary_key=True)
    kind: str = Field(index=True)  # "setup" or "decide"
    key: str = Field(index=True)
    host: str
    status: str = Field(default="queued", index=True)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    done: float = 0.0
    total: float = 0.0
    message: str | None = Field(default=None, sa_column=Column(Text))
    eta_s: float | None = None
    log: str = Field(default="", sa_column=Column(Text))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    error: str | None = Field(default=None, sa_column=Column(Text))
    cancel_requested: bool = False
    worker_id: str | None = Field(default=None, sa_column=Column(Text))
    worker_pid: int | None = None
    lease_until: datetime | None = None
    heartbeat_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class EndpointSlots(SQLModel, table=True):
    """What an endpoint can serve, as the workers that reach it declare it: `slots` requests
    at once across every worker (None: one run at a time), and whether it swaps models (runs
    of different models never share it). Its row is also the lock claims on it take."""

    __tablename__ = "endpoint_slots"

    url: str = Field(primary_key=True)
    slots: int | None = None
    swaps: bool = False
    declared_by: str | None = None
    declared_at: datetime = Field(default_factory=utcnow)
