"""setup_benchmark: set benchmarks up from the agent's side, as a durable job."""

from __future__ import annotations

from typing import Annotated

from fastmcp import FastMCP
from pydantic import Field

from benchdock.harnesses.service import setup
from benchdock.harnesses.service.operations import Core
from benchdock.harnesses.service.setup import SetupJob
from benchdock.tools._errors import agent_errors
from benchdock.tools.runs import MAX_WAIT_S


def register(mcp: FastMCP, core: Core) -> None:
    @mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False,
                           "idempotentHint": True, "openWorldHint": True},
              output_schema=None)
    @agent_errors
    async def setup_benchmark(
        benchmarks: Annotated[list[str], Field(min_length=1, description=(
            "Benchmark ids (list_benchmarks), or ['all']"))],
        confirm: Annotated[bool, Field(description=(
            "Start a large set-up (plan.confirm_needed), or retry a failed one"))] = False,
        wait_s: Annotated[float, Field(ge=0, description=(
            f"Seconds to wait for it to finish (capped at {MAX_WAIT_S:.0f})"))] = 0.0,
        log_lines: Annotated[int, Field(ge=0, le=200, description=(
            "Also return the last N lines of its log"))] = 0,
        cancel: Annotated[bool, Field(description="Stop the set-up of these")] = False,
    ) -> SetupJob:
        """Install what benchmarks need here (venvs, datasets) as a background job. It
        first says what it will download and build, disk and minutes; a large set-up needs
        confirm=true. Returns at once (or after wait_s) with progress, ETA and, when done,
        which benchmarks are ready. Call again with the same benchmarks to follow it."""
        job = setup.request(core.settings, core.db, benchmarks, confirm, cancel)
        if job.job_id and wait_s > 0 and job.status in ("queued", "running"):
            job = await setup.wait(core.settings, core.db, job.job_id,
                                   min(wait_s, MAX_WAIT_S), log_lines)
        elif job.job_id and log_lines:
            job = setup.view(core.settings, core.db, job.job_id, log_lines, job.plan)
        return job
