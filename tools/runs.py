"""Following and reading runs: get_run, wait_for_run, cancel_run, resume_run, list_runs,
get_results."""

from __future__ import annotations

from typing import Annotated, Literal

from fastmcp import Context, FastMCP
from pydantic import BaseModel, Field

from benchdock.harnesses.service import operations as service
from benchdock.harnesses.service.operations import Core
from benchdock.harnesses.service.views import Results, RunStatus
from benchdock.tools._errors import agent_errors

# Common MCP clients give up on a tool call after about 60 s; stay well below.
MAX_WAIT_S = 45.0

RunId = Annotated[str, Field(description="The run_id that run_benchmark returned")]


class RunList(BaseModel):
    runs: list[RunStatus]


def register(mcp: FastMCP, core: Core) -> None:
    @mcp.tool(annotations={"readOnlyHint": True}, output_schema=None)
    @agent_errors
    async def get_run(run_id: RunId) -> RunStatus:
        """Status of a run: queued, running, succeeded, failed or cancelled; samples done of
        total, elapsed time, ETA, and the error if it failed."""
        return service.run_status(core.settings, core.db, run_id)

    @mcp.tool(annotations={"readOnlyHint": True}, output_schema=None)
    @agent_errors
    async def wait_for_run(
        run_id: RunId,
        timeout_s: Annotated[float, Field(ge=0, description=(
            f"Seconds to wait; capped at {MAX_WAIT_S:.0f} to stay under client timeouts"))] = 30.0,
        ctx: Context | None = None,
    ) -> RunStatus:
        """Wait until the run finishes or the timeout passes, sending progress notifications,
        then return its status. Call again while status is queued or running."""

        async def progress(done: int, total: int, message: str) -> None:
            if ctx is not None:
                await ctx.report_progress(done, total or None, message)

        return await service.wait_for_run(
            core.settings, core.db, run_id, min(timeout_s, MAX_WAIT_S), progress)

    @mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False,
                           "idempotentHint": True}, output_schema=None)
    @agent_errors
    async def cancel_run(run_id: RunId) -> RunStatus:
        """Stop a queued or running run promptly. Samples already scored are kept (see
        get_results); resume_run carries on later."""
        return service.cancel_run(core.db, run_id, home=core.settings.home)

    @mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False}, output_schema=None)
    @agent_errors
    async def resume_run(run_id: RunId) -> RunStatus:
        """Queue a failed or cancelled run again; only its unscored samples are run, and
        answers already generated come from the cache."""
        return service.resume_run(core.settings, core.db, run_id)

    @mcp.tool(annotations={"readOnlyHint": True}, output_schema=None)
    @agent_errors
    async def list_runs(
        limit: Annotated[int, Field(ge=1, le=200)] = 20,
        status: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None = None,
    ) -> RunList:
        """The most recent runs, newest first, with status and progress: use it to find a
        run_id to pass to get_results, wait_for_run or resume_run."""
        return RunList(runs=service.list_runs(core.db, limit, status, home=core.settings.home))

    @mcp.tool(annotations={"readOnlyHint": True}, output_schema=None)
    @agent_errors
    async def get_results(
        run_id: RunId,
        offset: Annotated[int, Field(ge=0, description="First sample of the page")] = 0,
        limit: Annotated[int, Field(ge=0, le=500, description=(
            "Samples per page; 0 = the scores and tables only"))] = 20,
        status: Annotated[Literal["pass", "fail", "error", "timeout"] | None, Field(
            description="Only samples with this verdict")] = None,
        include_raw: Annotated[bool, Field(
            description="Also return the raw answer and reasoning text")] = False,
    ) -> Results:
        """Scores and evidence of a run: pass@1 (pass@k when n_samples > 1) with 95%
        interval and n; its own figures as tables; timing (wall, latency, time to first
        token and on how many requests, tokens/s) with reliability (failed_requests,
        retried_requests, retry_lost_s, infrastructure_retries); a page of per-sample
        verdicts with the failing test or error, the code and the evidence."""
        return service.results(core.db, run_id, offset, limit, status, include_raw,
                               home=core.settings.home)
