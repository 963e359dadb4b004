"""list_workers: the workers sharing this store, on this machine or others."""

from __future__ import annotations

from typing import Annotated

from fastmcp import FastMCP
from pydantic import Field

from benchdock.harnesses.engine import worker
from benchdock.harnesses.engine.worker import WorkerList
from benchdock.harnesses.service.operations import Core
from benchdock.tools._errors import agent_errors


def register(mcp: FastMCP, core: Core) -> None:
    @mcp.tool(annotations={"readOnlyHint": True}, output_schema=None)
    @agent_errors
    async def list_workers(
        include_stopped: Annotated[bool, Field(
            description="Also list workers that stopped cleanly")] = False,
    ) -> WorkerList:
        """The workers running this store's runs and jobs (other machines' too, on
        PostgreSQL): alive or not, what each holds, its endpoints and lease. A run that
        stays queued while no live worker serves its endpoint needs a worker there."""
        return worker.list_workers(core.db, include_stopped)
