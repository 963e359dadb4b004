"""decide: an adaptive comparison that stops each benchmark as soon as the evidence decides."""

from __future__ import annotations

from typing import Annotated

from fastmcp import Context, FastMCP
from pydantic import Field

from benchdock.harnesses.choice.adaptive import decide as run_decision
from benchdock.harnesses.choice.adaptive_views import DecideRequest, Decision
from benchdock.harnesses.service import Core
from benchdock.tools._errors import agent_errors
from benchdock.tools.runs import MAX_WAIT_S

F = DecideRequest.model_fields


def register(mcp: FastMCP, core: Core) -> None:
    @mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False,
                           "openWorldHint": True})
    @agent_errors
    async def decide(
        models: Annotated[list[str], F["models"]],
        budget_minutes: Annotated[float, F["budget_minutes"]],
        priorities: Annotated[str | dict[str, float] | None, F["priorities"]] = None,
        margin: Annotated[float, F["margin"]] = 0.05,
        confidence: Annotated[float, F["confidence"]] = 0.95,
        benchmarks: Annotated[list[str] | None, F["benchmarks"]] = None,
        tasks_per_benchmark: Annotated[int | None, F["tasks_per_benchmark"]] = None,
        batch: Annotated[int | None, F["batch"]] = None,
        seed: Annotated[int, F["seed"]] = 0,
        max_tokens: Annotated[int | None, F["max_tokens"]] = None,
        wait_s: Annotated[float, Field(ge=0, description=(
            f"Seconds to advance before answering (capped at {MAX_WAIT_S:.0f}); the runs "
            "go on in the background"))] = 40.0,
        ctx: Context | None = None,
    ) -> Decision:
        """Decide between 2-4 models as soon as the evidence allows: runs the benchmarks
        that measure the weighted dimensions on every model, on the same tasks in one seeded
        random order, batch by batch, and after each batch updates anytime-valid intervals
        of the paired differences; a benchmark stops when a model is separated, when the
        models are provably within `margin`, or when its share of the budget is spent.
        Returns status running (call again with the same arguments: it continues, reusing
        every run) or finished, with the winner per dimension and overall, the intervals,
        and the minutes spent against what the full benchmarks would cost."""
        req = DecideRequest(models=models, budget_minutes=budget_minutes,
                            priorities=priorities, margin=margin, confidence=confidence,
                            benchmarks=benchmarks, tasks_per_benchmark=tasks_per_benchmark,
                            batch=batch, seed=seed, max_tokens=max_tokens)

        async def progress(done: int, total: int, message: str) -> None:
            if ctx is not None:
                await ctx.report_progress(done, total or None, message)

        return await run_decision(core.settings, core.db, req, progress,
                                  min(wait_s, MAX_WAIT_S))
