"""decide: an adaptive comparison that stops each benchmark as soon as the evidence decides;
it runs in the background worker, and a call starts it or reads where it stands."""

from __future__ import annotations

from typing import Annotated

from fastmcp import FastMCP
from pydantic import Field

from benchdock.harnesses.choice import adaptive_job
from benchdock.harnesses.choice.adaptive_views import DecideRequest, Decision
from benchdock.harnesses.service import links
from benchdock.harnesses.service import operations as service
from benchdock.harnesses.service.operations import Core
from benchdock.tools._errors import agent_errors
from benchdock.tools.runs import MAX_WAIT_S

F = DecideRequest.model_fields


def register(mcp: FastMCP, core: Core) -> None:
    @mcp.tool(annotations={"readOnlyHint": False, "destructiveHint": False,
                           "idempotentHint": True, "openWorldHint": True}, output_schema=None)
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
            f"Seconds to wait for it to finish before answering (capped at "
            f"{MAX_WAIT_S:.0f}); it goes on in the background either way"))] = 0.0,
        cancel: Annotated[bool, Field(description="Stop it (its runs are cancelled)")] = False,
    ) -> Decision:
        """Decide between models on evidence, in the background: the worker runs the
        benchmarks for the weighted dimensions on every model, same tasks in one seeded
        order, batch by batch, and stops each benchmark once anytime-valid intervals of the
        paired differences separate a model, show the models within `margin`, or its budget
        share is spent. Returns at once (or after wait_s) with the state: per dimension the
        winner, intervals and each model's own rate; `choice` (winner, or the tie rule's
        pick). Call again with the same arguments to read it; a larger budget continues it.
        Over 4 models: screened first (see `screening`)."""
        req = DecideRequest(models=models, budget_minutes=budget_minutes,
                            priorities=priorities, margin=margin, confidence=confidence,
                            benchmarks=benchmarks, tasks_per_benchmark=tasks_per_benchmark,
                            batch=batch, seed=seed, max_tokens=max_tokens)
        d = await adaptive_job.request(core.settings, core.db, req, cancel)
        if wait_s > 0 and d.status in ("queued", "running"):
            d = await adaptive_job.wait(core.settings, core.db, d.decision_id,
                                        min(wait_s, MAX_WAIT_S))
        d.view_url = links.link(service.viewer_base(core.db, core.settings.home),
                                links.decision_path(d.decision_id))
        return d
