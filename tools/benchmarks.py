"""list_benchmarks, describe_benchmark and run_benchmark."""

from __future__ import annotations

from typing import Annotated, Any

from fastmcp import FastMCP
from pydantic import BaseModel, Field

from benchdock.harnesses.contract.benchmark import BenchmarkBrief, BenchmarkInfo
from benchdock.harnesses.runspec import (
    BenchmarkId,
    Concurrency,
    EndpointChoice,
    Limit,
    Mode,
    ModelId,
    NSamples,
    OptionalMaxTokens,
    Options,
    Seed,
    TaskIds,
    Temperature,
    TopP,
)
from benchdock.harnesses.service import links
from benchdock.harnesses.service import operations as service
from benchdock.harnesses.service.operations import Core
from benchdock.harnesses.service.views import RunRequest
from benchdock.tools._errors import agent_errors


class BenchmarkList(BaseModel):
    benchmarks: list[BenchmarkBrief]


class QueuedRun(BaseModel):
    run_id: str = Field(description="Use with get_run, wait_for_run, get_results, cancel_run")
    status: str
    total: int = Field(description="Samples to score (tasks x n_samples)")
    concurrency: int = Field(description="Requests the run sends at once")
    endpoint: str
    max_tokens: int = Field(description="Tokens per answer, as decided (the benchmark's default "
                                        "unless given)")
    options: dict[str, Any] = Field(description=(
        "The benchmark's options as decided when queued (e.g. `auto` resolved)"))
    options_reason: str | None = Field(default=None, description="Why they are what they are")
    view_url: str | None = Field(default=None, description=(
        "The run in the viewer (`benchdock view`), when one serves this store here"))


def register(mcp: FastMCP, core: Core) -> None:
    @mcp.tool(annotations={"readOnlyHint": True}, output_schema=None)
    @agent_errors
    async def list_benchmarks() -> BenchmarkList:
        """The benchmarks benchdock can run, one line each: id, title, the capability
        dimensions it measures, tasks, rough cost, whether it can run on this machine (and
        what is missing), and its parts runnable on their own. describe_benchmark(id) gives
        one benchmark in full (options, needs, dimension map)."""
        return BenchmarkList(benchmarks=service.list_benchmarks(core.settings))

    @mcp.tool(annotations={"readOnlyHint": True}, output_schema=None)
    @agent_errors
    async def describe_benchmark(
        benchmark: Annotated[str, Field(description="Benchmark id from list_benchmarks")],
    ) -> BenchmarkInfo:
        """One benchmark in full: description, version, what it needs here and how to get
        it, its options (JSON schema; run_benchmark's `options`, `mode` for the main one), run
        defaults that differ (e.g. max_tokens), metrics, parts, and which metric measures
        which dimension."""
        return service.describe(core.settings, benchmark)

    @mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False,
                           "openWorldHint": True}, output_schema=None)
    @agent_errors
    async def run_benchmark(
        model: ModelId,
        benchmark: BenchmarkId,
        limit: Limit = None,
        tasks: TaskIds = None,
        n_samples: NSamples = 1,
        temperature: Temperature = 0.0,
        top_p: TopP = 0.95,
        max_tokens: OptionalMaxTokens = None,
        seed: Seed = None,
        concurrency: Concurrency = None,
        endpoint: EndpointChoice = None,
        mode: Mode = None,
        options: Options = None,
    ) -> QueuedRun:
        """Queue an evaluation of `model` on `benchmark` and return its run_id at once. The run
        is executed by a background worker (it survives this server); follow it with
        wait_for_run or get_run, then read get_results. Generated code runs in a sandbox
        (Docker when available; the run records which and what confined it)."""
        req = RunRequest(model=model, benchmark=benchmark, limit=limit, tasks=tasks,
                         n_samples=n_samples, temperature=temperature, top_p=top_p,
                         max_tokens=max_tokens, seed=seed, concurrency=concurrency,
                         endpoint=endpoint, mode=mode, options=options)
        run = await service.queue_run(core.settings, core.db, req)
        return QueuedRun(run_id=run.id, status=run.status, total=run.total,
                         concurrency=run.concurrency, endpoint=run.endpoint_url,
                         max_tokens=int(run.params["max_tokens"]),
                         options=dict(run.params.get("options") or {}),
                         options_reason=run.params.get("options_reason"),
                         view_url=links.link(service.viewer_base(core.db, core.settings.home),
                                             links.run_path(run.id)))
