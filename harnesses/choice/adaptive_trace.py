"""What a decision looked like as it went: the request, the latest answer, and every pair's
interval each time it moved (BENCHDOCK_HOME/decisions/ID.trace.json), for the viewer.

The state file beside it (`adaptive_setup`) keeps only what cannot be recomputed, and the
intervals are recomputed on each `decide` call; the viewer reads this file instead, so it
can show a decision — its intervals narrowing task by task — without an endpoint, without
re-running the confidence sequences and without knowing the request that made it.
`decide` keeps it up to date: each time the intervals move while a call advances the
decision, and once with the answer the call returns.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchdock.harnesses.choice.adaptive_views import DecideRequest, Decision

Progress = Callable[[int, int, str], Awaitable[None]]
SUFFIX = ".trace.json"
MAX_POINTS = 5000  # per trace; beyond it every other point is dropped (the curve keeps its shape)


def trace_path(home: Path, decision_id: str) -> Path:
    return home / "decisions" / f"{decision_id}{SUFFIX}"


def decision_ids(home: Path) -> list[str]:
    """The decisions that left a trace, newest first."""
    found = sorted((home / "decisions").glob(f"*{SUFFIX}"), key=lambda p: -p.stat().st_mtime)
    return [p.name.removesuffix(SUFFIX) for p in found]


def read_trace(home: Path, decision_id: str) -> dict[str, Any] | None:
    try:
        data = json.loads(trace_path(home, decision_id).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class DecisionTrace:
    """Keeps one decision's trace file; `follow` wraps decide's progress callback so every
    move of the intervals is recorded."""

    def __init__(self, home: Path, decision_id: str, req: DecideRequest) -> None:
        self.path = trace_path(home, decision_id)
        old = read_trace(home, decision_id) or {}
        self.request = req.model_dump(mode="json")
        # a later call replays the sequences from the first task: the points it passes are
        # those already here (the same runs give the same intervals), unless it asks for
        # another confidence, which makes every interval another
        same = (old.get("request") or {}).get("confidence") == self.request["confidence"]
        self.points: list[dict[str, Any]] = list(old.get("points") or []) if same else []
        self.last: dict[str, Any] | None = old.get("decision")
        self._seen: dict[tuple[str, str, str], int] = {}
        for p in self.points:
            key = (p["dimension"], p["a"], p["b"])
            self._seen[key] = max(self._seen.get(key, 0), p["tasks"])

    def follow(self, result: Callable[[], Decision], progress: Progress | None) -> Progress:
        async def wrapped(done: int, total: int, message: str) -> None:
            self.record(result())
            if progress is not None:
                await progress(done, total, message)

        return wrapped

    def record(self, decision: Decision) -> None:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        moved = False
        for d in decision.dimensions:
            for p in d.intervals:
                key = (d.dimension, p.a, p.b)
                if p.tasks > self._seen.get(key, 0):
                    self._seen[key] = p.tasks
                    self.points.append({"at": at, "dimension": d.dimension, "a": p.a, "b": p.b,
                                        "tasks": p.tasks, "lower": p.lower, "upper": p.upper})
                    moved = True
        if len(self.points) > MAX_POINTS:
            self.points = self.points[::2]
        answer = decision.model_dump(mode="json")
        if not moved and answer == self.last:
            return
        self.last = answer
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"request": self.request, "updated_at": at,
                                   "decision": answer, "points": self.points}))
        tmp.replace(self.path)
