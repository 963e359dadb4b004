"""recommend_model and plan_evaluation: decisions from the evidence."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastmcp import FastMCP
from pydantic import Field

from benchdock.harnesses.choice import speeds
from benchdock.harnesses.choice.adaptive_swap import model_switch_s
from benchdock.harnesses.choice.plan import plan
from benchdock.harnesses.choice.profiles import DEFAULT_PROFILE, PROFILES
from benchdock.harnesses.choice.recommend import recommend
from benchdock.harnesses.choice.views import Constraints, EvaluationPlan, Recommendation
from benchdock.harnesses.service import operations as service
from benchdock.harnesses.service.operations import Core
from benchdock.tools._errors import agent_errors

Priorities = Annotated[str | dict[str, float] | None, Field(description=(
    f"A profile ({', '.join(PROFILES)}; default {DEFAULT_PROFILE}) or weights per dimension, "
    'e.g. {"tool_use": 3, "editing": 1}'))]


def register(mcp: FastMCP, core: Core) -> None:
    @mcp.tool(annotations={"readOnlyHint": True}, output_schema=None)
    @agent_errors
    async def recommend_model(
        priorities: Priorities = None,
        constraints: Annotated[Constraints | None, Field(description=(
            "Hard limits on measured speed and context"
        ))] = None,
        models: Annotated[list[str] | None, Field(
            description="Only rank these models; default: every model with results")] = None,
    ) -> Recommendation:
        """Rank models for a job from the stored evidence: priority weights over the ten
        dimensions (or a named profile) and hard constraints. Each rank says why; the
        quality/speed Pareto front is marked; when the evidence cannot separate the top two,
        `next_run` names the cheapest run that would measure the deciding dimension."""
        probes = speeds.probes(core.settings.home)
        return await anyio.to_thread.run_sync(
            lambda: recommend(core.db, priorities, constraints, models, probes=probes))

    @mcp.tool(annotations={"readOnlyHint": True, "openWorldHint": True}, output_schema=None)
    @agent_errors
    async def plan_evaluation(
        models: Annotated[list[str], Field(description="Model ids to evaluate (list_models)")],
        budget_minutes: Annotated[float, Field(gt=0, description="Time available, in minutes")],
        priorities: Priorities = None,
    ) -> EvaluationPlan:
        """Plan the runs to queue (cheapest informative first) that measure the dimensions
        that matter for these models within the budget, on timings measured here (a model
        with none is probed with a few short requests first; switch times on servers that
        swap models). Only runs that can run now; what it cannot cover is grouped by reason
        with the set-up that would fix it. For a comparison that stops once the evidence
        decides, use decide."""
        known: list[str] = []
        swapping: set[str] = set()
        try:
            statuses = await service.list_models(core.settings)
            known = [m.id for st in statuses for m in st.models]
            swapping = {m.id for st in statuses if st.swapping for m in st.models}
        except Exception:  # the store's models still count when discovery fails
            known = []
        switch = {m: s for m, s in model_switch_s(core.settings.home).items() if m in swapping}
        probes, notes = await speeds.ensure(core.settings, core.db,
                                            [m for m in models if m in known])
        return await anyio.to_thread.run_sync(
            lambda: plan(core.db, models, budget_minutes, priorities, known, switch, probes,
                         notes))
