"""Charts as images and runs as resources, for MCP clients that show them."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import anyio
from fastmcp import FastMCP
from fastmcp.exceptions import ResourceError
from fastmcp.utilities.types import Image
from pydantic import Field

from benchdock.harnesses.errors import BenchdockError
from benchdock.harnesses.report.document import build
from benchdock.harnesses.service import operations as service
from benchdock.harnesses.service.operations import Core
from benchdock.tools._errors import agent_errors


def register(mcp: FastMCP, core: Core) -> None:
    def render(kind: str, models: list[str] | None,
               priorities: str | dict[str, float] | None) -> bytes:
        report = build(core.db, models, priorities)
        return report.radar_png if kind == "radar" else report.scatter_png

    @mcp.tool(annotations={"readOnlyHint": True}, output_schema=None)
    @agent_errors
    async def get_chart(
        kind: Annotated[Literal["radar", "quality_speed"], Field(description=(
            "radar: dimension scores per model; quality_speed: weighted score against "
            "tokens/s with the Pareto front"))] = "radar",
        models: Annotated[list[str] | None, Field(
            description="Models to draw; default: the best six by the priorities")] = None,
        priorities: Annotated[str | dict[str, float] | None, Field(
            description="Profile or weights for the ranking and the score axis")] = None,
    ) -> Image:
        """A PNG chart of the comparison, the same as in `benchdock report`."""
        data = await anyio.to_thread.run_sync(render, kind, models, priorities)
        return Image(data=data, format="png")

    @mcp.resource("benchdock://charts/{kind}.png", mime_type="image/png")
    async def chart_resource(kind: str) -> bytes:
        """The radar or quality_speed chart for every model with results (default profile)."""
        if kind not in ("radar", "quality_speed"):
            raise ResourceError(f"unknown chart {kind!r}; valid: radar, quality_speed")
        try:
            return await anyio.to_thread.run_sync(render, kind, None, None)
        except BenchdockError as exc:
            raise ResourceError(str(exc)) from None

    @mcp.resource("benchdock://runs/{run_id}", mime_type="application/json")
    async def run_resource(run_id: str) -> str:
        """One run as JSON: status, settings, metrics and the first 50 samples' verdicts
        (get_results pages through the rest)."""
        try:
            res = service.results(core.db, run_id, limit=50, home=core.settings.home)
        except BenchdockError as exc:
            raise ResourceError(str(exc)) from None
        return json.dumps(res.model_dump(mode="json"), indent=1)
