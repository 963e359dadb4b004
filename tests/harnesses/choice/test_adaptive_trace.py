"""`decide` leaves a trace for the viewer: each move of a pair's interval while a call
advances the decision, and the answer the call returns (decisions/ID.trace.json). The
Decider is replaced by one that moves its interval on each progress call, so what is
checked is the wiring in `decide()` and the trace's contents, without endpoints or Docker
(test_adaptive_swap.py runs a real decision)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from benchdock.harnesses.choice import adaptive
from benchdock.harnesses.choice.adaptive_trace import decision_ids, read_trace
from benchdock.harnesses.choice.adaptive_views import (
    DecideRequest,
    Decision,
    DimensionDecision,
    PairInterval,
)
from tests.conftest import make_settings

STEPS = [(4, -0.9, 0.9), (8, -0.5, 0.6), (8, -0.5, 0.6), (12, 0.1, 0.5)]  # one repeat


class MovingDecider:
    """Three progress calls, the interval narrowing (once not moving), then finished."""

    def __init__(self, settings: Any, db: Any, req: DecideRequest, progress: Any) -> None:
        self.progress, self.did, self.tracks, self.at = progress, "feedc0ffee12", [], 0

    async def setup(self) -> None:
        return None

    async def run(self, wait_s: float | None) -> bool:
        for i in range(len(STEPS)):
            self.at = i
            await self.progress(i, len(STEPS), f"step {i}")
        return True

    def result(self, finished: bool) -> Decision:
        tasks, lo, hi = STEPS[self.at]
        pair = PairInterval(a="a", b="b", lower=lo, upper=hi, tasks=tasks,
                            verdict="a better" if lo > 0 else "open")
        return Decision(decision_id=self.did, status="finished" if finished else "running",
                        verdict="a is better" if finished else "in progress",
                        overall=[pair], minutes=1.0, full_minutes=5.0, notes=[], benchmarks=[],
                        dimensions=[DimensionDecision(
                            dimension="generation", weight=1.0, benchmark="humaneval",
                            status="separated" if lo > 0 else "open", intervals=[pair],
                            tasks=tasks, population=40)])


def test_decide_records_every_move_and_the_answer(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adaptive, "Decider", MovingDecider)
    monkeypatch.setattr(adaptive, "save_state", lambda *a: None)
    settings = make_settings(tmp_path, "http://127.0.0.1:9/v1", sandbox="local")
    req = DecideRequest(models=["a", "b"], budget_minutes=5, margin=0.02)
    seen: list[str] = []

    async def progress(done: int, total: int, message: str) -> None:
        seen.append(message)

    answer = anyio.run(adaptive.decide, settings, None, req, progress, None)
    assert seen == [f"step {i}" for i in range(len(STEPS))]  # the caller's progress still runs
    assert decision_ids(tmp_path) == ["feedc0ffee12"]
    trace = read_trace(tmp_path, "feedc0ffee12")
    assert trace is not None
    assert trace["request"]["margin"] == 0.02 and trace["request"]["models"] == ["a", "b"]
    assert [(p["tasks"], p["lower"], p["upper"]) for p in trace["points"]] == [
        (4, -0.9, 0.9), (8, -0.5, 0.6), (12, 0.1, 0.5)]  # a repeat is not a move
    assert trace["decision"] == answer.model_dump(mode="json")
    assert trace["decision"]["status"] == "finished"
    # a later call replays the same runs from the first task: nothing new to record
    anyio.run(adaptive.decide, settings, None, req, None, None)
    again = read_trace(tmp_path, "feedc0ffee12")
    assert again is not None and again["points"] == trace["points"]
    # another confidence makes every interval another: the trace starts again
    other = req.model_copy(update={"confidence": 0.9})
    anyio.run(adaptive.decide, settings, None, other, None, None)
    fresh = read_trace(tmp_path, "feedc0ffee12")
    assert fresh is not None and fresh["request"]["confidence"] == 0.9
    assert [p["tasks"] for p in fresh["points"]] == [4, 8, 12]
