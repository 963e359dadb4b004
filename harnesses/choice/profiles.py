"""Named priority profiles: weights over the ten dimensions for common jobs.

They are starting points, written from the research note's account of what each job leans
on; an agent that knows its job better passes its own weights instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from benchdock.harnesses.contract.dimensions import DIMENSIONS
from benchdock.harnesses.errors import BenchdockError

PROFILES: dict[str, dict[str, float]] = {
    # an autonomous coding agent: edits, tools, plans, recovers from its own mistakes
    "agentic-coding": {"editing": 0.2, "tool_use": 0.15, "planning": 0.15, "debugging": 0.15,
                       "repo_understanding": 0.1, "instruction_following": 0.1,
                       "generation": 0.05, "long_context": 0.05, "multi_language": 0.05},
    # inline completion: writes code from context, in the editor's language, and must be fast
    "autocomplete": {"generation": 0.6, "multi_language": 0.25, "editing": 0.15},
    # an agent whose work is mostly calling tools (MCP servers, APIs)
    "tool-heavy-agent": {"tool_use": 0.45, "planning": 0.2, "instruction_following": 0.15,
                         "debugging": 0.1, "long_context": 0.1},
    # every dimension alike
    "balanced": dict.fromkeys(DIMENSIONS, 0.1),
}
DEFAULT_PROFILE = "agentic-coding"


def resolve(priorities: str | Mapping[str, float] | None) -> tuple[dict[str, float], str | None]:
    """Weights (normalised to sum 1) and the profile name they came from, if any. A profile
    name may use spaces or underscores ("agentic coding")."""
    if priorities is None:
        priorities = DEFAULT_PROFILE
    if isinstance(priorities, str):
        name = priorities.strip().lower().replace(" ", "-").replace("_", "-")
        if name not in PROFILES:
            raise BenchdockError(f"unknown priority profile {priorities!r}; valid: "
                                 f"{', '.join(PROFILES)}, or a mapping of dimension to weight")
        return _normalise(PROFILES[name]), name
    bad = [d for d in priorities if d not in DIMENSIONS]
    if bad:
        raise BenchdockError(f"unknown dimension(s) {bad} in priorities; valid: {', '.join(DIMENSIONS)}")
    negative = {d: w for d, w in priorities.items() if w < 0}
    if negative:
        raise BenchdockError(f"priority weights must be >= 0, got {negative}")
    if not any(w > 0 for w in priorities.values()):
        raise BenchdockError("priorities give no dimension a positive weight; e.g. "
                             '{"tool_use": 2, "editing": 1}')
    return _normalise(priorities), None


def _normalise(weights: Mapping[str, float]) -> dict[str, float]:
    total = sum(w for w in weights.values() if w > 0)
    return {d: w / total for d, w in weights.items() if w > 0}
