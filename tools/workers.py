"""list_workers: the workers sharing this store, on this machine or others."""

from __future__ import annotations

from typing import Annotated

from fastmcp import FastMCP
from pydantic import Field

from benchdock.harnesses import worker
from benchdock.harnesses.service import Core
from benchdock.harnesses.worker import WorkerList
from benchdock.tools._errors import agent_errors


def register(mcp: FastMCP, core: Core) -> None:
    @mcp.tool(annotations={"readOnlyHint": True})
    @agent_errors
    async def list_workers(
        include_stopped: Annotated[bool, Field(
            description="Also list workers that stopped cleanly")] = False,
    ) -> WorkerList:
        """The workers executing runs from this store: alive or not (a worker whose lease ran
        out is dead and its runs go to another), the runs each holds, the endpoints each
        serves, its lease. With PostgreSQL, workers on other machines are listed too. A run
        that stays queued while no live worker serves its endpoint needs a worker there."""
        return worker.list_workers(core.db, include_stopped)
