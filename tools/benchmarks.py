"""list_benchmarks and run_benchmark."""

from __future__ import annotations

from typing import Annotated

from fastmcp import FastMCP
from pydantic import BaseModel, Field

from benchdock.harnesses import service
from benchdock.harnesses.base import BenchmarkInfo
from benchdock.harnesses.registry import all_benchmarks
from benchdock.harnesses.service import Core
from benchdock.harnesses.views import RunRequest
from benchdock.tools._errors import agent_errors


class BenchmarkList(BaseModel):
    benchmarks: list[BenchmarkInfo]


class QueuedRun(BaseModel):
    run_id: str = Field(description="Use with get_run, wait_for_run, get_results, cancel_run")
    status: str
    total: int = Field(description="Samples to score (tasks x n_samples)")
    concurrency: int = Field(description="Requests the run sends at once")
    endpoint: str
    mode: str | None = Field(default=None, description=(
        "bfcl: native or prompting, as decided; aider-polyglot: the edit format (null = "
        "aider's default for the model)"))
    mode_reason: str | None = Field(default=None, description="Why that mode")


def register(mcp: FastMCP, core: Core) -> None:
    @mcp.tool(annotations={"readOnlyHint": True})
    async def list_benchmarks() -> BenchmarkList:
        """List the benchmarks benchdock can run: id, title, the capability dimensions each
        measures, task count, what it needs (Docker, a dataset download) and rough cost."""
        return BenchmarkList(benchmarks=[b.info() for b in all_benchmarks()])

    @mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False, "openWorldHint": True})
    @agent_errors
    async def run_benchmark(
        model: Annotated[str, Field(description="Model id from list_models")],
        benchmark: Annotated[str, Field(description="Benchmark id from list_benchmarks")],
        limit: Annotated[int | None, Field(ge=1, description="Only the first N tasks (bfcl: of each category; aider-polyglot: of each language)")] = None,
        tasks: Annotated[list[str] | None, Field(description="Only these task ids")] = None,
        n_samples: Annotated[int, Field(ge=1, le=200, description="Samples per task, for pass@k")] = 1,
        temperature: Annotated[float, Field(ge=0, le=2, description="0 = greedy (default)")] = 0.0,
        top_p: Annotated[float, Field(gt=0, le=1)] = 0.95,
        max_tokens: Annotated[int, Field(ge=16, le=262144, description=(
            "Per answer; 768 matches EvalPlus, raise it for reasoning models"))] = 768,
        seed: int | None = None,
        concurrency: Annotated[int | None, Field(ge=1, le=64, description=(
            "Requests at once; default: what the server reports it can serve"))] = None,
        endpoint: Annotated[str | None, Field(description="Endpoint URL or name if the model id is on several")] = None,
        mode: Annotated[str | None, Field(description=(
            "bfcl benchmarks: native function calling (the tools field), prompting "
            "(calls written as text, parsed as BFCL does), or auto (default: native where "
            "the endpoint answers a probe with a tool call). aider-polyglot benchmarks: "
            "aider's edit format (whole, diff, diff-fenced, udiff, udiff-simple, patch) or "
            "auto (default: the format aider picks for the model)"))] = None,
    ) -> QueuedRun:
        """Queue an evaluation of `model` on `benchmark` and return its run_id at once. The run
        is executed by a background worker (it survives this server); follow it with
        wait_for_run or get_run, then read get_results. Generated code runs in a Docker
        sandbox when one is available (the run records which sandbox it used)."""
        req = RunRequest(model=model, benchmark=benchmark, limit=limit, tasks=tasks,
                         n_samples=n_samples, temperature=temperature, top_p=top_p,
                         max_tokens=max_tokens, seed=seed, concurrency=concurrency,
                         endpoint=endpoint, mode=mode)
        run = await service.queue_run(core.settings, core.db, req)
        return QueuedRun(run_id=run.id, status=run.status, total=run.total,
                         concurrency=run.concurrency, endpoint=run.endpoint_url,
                         mode=run.params.get("bfcl_mode") or run.params.get("aider_edit_format"),
                         mode_reason=(run.params.get("bfcl_mode_reason")
                                      or run.params.get("aider_edit_format_reason")))
