"""A sample's evidence (its `extra`), sorted for showing: an agent's trajectory step by
step (swe-local: each command the model ran and what came back), a harness's attempts
(aider: each answer's test run), the exchanges with the model a reference harness made
(BFCL, aider, swe: latency, tokens, tool calls, errors), long texts (test logs,
tracebacks, patches) as text, and the rest as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LONG = 160  # a string this long, or with a line break, is shown as a block of text


@dataclass
class Evidence:
    trajectory: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)
    rest: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.trajectory or self.attempts or self.exchanges or self.texts
                    or self.rest)


def _dicts(value: Any) -> list[dict[str, Any]] | None:
    if isinstance(value, list) and all(isinstance(x, dict) for x in value):
        return value
    return None


def split_evidence(extra: dict[str, Any] | None) -> Evidence:
    ev = Evidence()
    for key, value in (extra or {}).items():
        steps = _dicts(value)
        if key == "trajectory" and steps is not None:
            ev.trajectory = steps
        elif key == "attempts" and steps is not None:
            ev.attempts = [_attempt(a) for a in steps]
        elif key == "exchanges" and steps is not None:
            ev.exchanges = steps
        elif isinstance(value, str) and (len(value) > LONG or "\n" in value):
            ev.texts.append((key, value))
        else:
            ev.rest[key] = value
    return ev


def _attempt(a: dict[str, Any]) -> dict[str, Any]:
    """An attempt with its long texts apart from its figures."""
    figures = {k: v for k, v in a.items()
               if not (isinstance(v, str) and (len(v) > LONG or "\n" in v)) and k != "report"}
    texts = [(k, v) for k, v in a.items() if isinstance(v, str) and (len(v) > LONG or "\n" in v)]
    return {"figures": figures, "texts": texts, "report": a.get("report")}
