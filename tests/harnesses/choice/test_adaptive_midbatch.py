"""decide takes evidence as it is scored, not only when a batch ends: a decision reached
mid-batch cancels the rest of the batch (the reason recorded) and a later call reaches the
same decision at the same task without running anything again; and the minutes of a run
decide resumed leave out the time it sat cancelled. Through the real worker and Docker
sandbox, against a fake server whose models' answers are known (tests/support/fake_swap.py)."""

from __future__ import annotations

import time
from pathlib import Path

import anyio

from benchdock.harnesses.choice.adaptive import Decider, decide
from benchdock.harnesses.choice.adaptive_runs import scored_prefix
from benchdock.harnesses.choice.adaptive_views import DecideRequest
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.service import operations as service
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from benchdock.store.tables import FINAL_STATUSES
from tests.conftest import make_settings
from tests.support.fake_swap import swapping_server


def test_scored_prefix_stops_at_the_first_task_a_model_lacks() -> None:
    order = ["t0", "t1", "t2", "t3"]
    assert scored_prefix(order, 0, [{"t0", "t1", "t3"}, {"t0", "t1", "t2", "t3"}]) == 2
    assert scored_prefix(order, 2, [{"t2", "t3"}, {"t2", "t3"}]) == 4
    assert scored_prefix(order, 1, [{"t0"}, {"t0", "t1"}]) == 1


def test_a_decision_mid_batch_cancels_the_rest_of_the_batch(
        tmp_path: Path, docker_image: str) -> None:
    bench = get_benchmark("humaneval")
    right = {bench.messages(t)[-1]["content"]: bench.reference(t) for t in bench.tasks()}

    def wrong(_: str) -> str:
        time.sleep(3.0)  # slow enough that the batch is still going when the decision comes
        return "I cannot write this."

    models = {"right": lambda m: right.get(m, "OK"), "wrong": wrong}
    with swapping_server(models, 0.0) as (url, _):
        settings = make_settings(tmp_path, url)
        db = make_engine(settings.database_url)
        # one batch of 30: the old rule (check at batch end) would use all 30 tasks
        req = DecideRequest(models=["right", "wrong"], budget_minutes=20, batch=30,
                            benchmarks=["humaneval"], tasks_per_benchmark=60, margin=0.1)
        d = anyio.run(decide, settings, db, req, None, None)
        dim, spend = d.dimensions[0], d.benchmarks[0]
        assert d.status == "finished" and d.winner == "right", d.verdict
        assert dim.status == "separated" and dim.intervals[0].lower > 0
        assert spend.status == "decided" and spend.batches == 1
        assert dim.tasks < 30 and spend.tasks_per_model == dim.tasks, (dim, spend)
        run_ids = {q.get_run(db, r).model: r for r in spend.runs}  # type: ignore[union-attr]
        right_run = service.run_status(settings, db, run_ids["right"])
        for _ in range(120):  # the worker stops a cancelled run at its next sample
            wrong_run = service.run_status(settings, db, run_ids["wrong"])
            if wrong_run.status in FINAL_STATUSES:
                break
            time.sleep(0.5)
        assert right_run.status == "succeeded" and right_run.done == 30
        assert wrong_run.status == "cancelled" and wrong_run.done < 30
        reason = wrong_run.params["cancel_reason"]
        assert reason.startswith(f"decided after {dim.tasks} of 60 tasks") and "not needed" in reason
        # full_minutes: from the time per sample actually scored, not per task decided on
        assert 0 < d.minutes < d.full_minutes and d.time_ratio is not None and d.time_ratio < 0.5
        # continuing: the same decision at the same task, nothing resumed or queued
        before = len(q.list_runs(db, 100))
        again = anyio.run(decide, settings, db, req, None, None)
        assert again.winner == "right" and again.dimensions[0].tasks == dim.tasks
        assert len(q.list_runs(db, 100)) == before
        assert service.run_status(settings, db, run_ids["wrong"]).status == "cancelled"


def test_a_resumed_batch_does_not_count_the_time_it_sat_cancelled(
        tmp_path: Path, docker_image: str) -> None:
    def slow(_: str) -> str:
        time.sleep(1.0)
        return "I cannot write this."

    with swapping_server({"slow": slow, "wrong": lambda _: "no"}, 0.0) as (url, _):
        settings = make_settings(tmp_path, url)
        db = make_engine(settings.database_url)
        req = DecideRequest(models=["slow", "wrong"], budget_minutes=0.02, batch=6,
                            benchmarks=["humaneval"], tasks_per_benchmark=12, margin=0.1)

        async def first_batch() -> tuple[str, Decider]:
            d = Decider(settings, db, req, None)
            await d.setup()
            t = d.tracks[0]
            batch = await d._queue(t, 0, 6)
            return await d._wait(t, batch, None), d

        outcome, d = anyio.run(first_batch)
        assert outcome == "cancelled" and d.tracks[0].cancelled
        started = [r for r in d.tracks[0].cancelled
                   if service.run_status(settings, db, r).elapsed_s is not None]
        assert started  # the slow model's run was cancelled while it worked
        pause = 6.0
        time.sleep(pause)
        more = req.model_copy(update={"budget_minutes": 20})
        done = anyio.run(decide, settings, db, more, None, None)
        assert done.status == "finished"
        runs = done.benchmarks[0].runs
        for _ in range(120):  # a run the decision ended mid-batch stops at its next sample
            sts = [service.run_status(settings, db, r) for r in runs]
            if all(s.status in FINAL_STATUSES for s in sts):
                break
            time.sleep(0.5)
        # each run either finished its batch or was cancelled because the decision came first
        assert all(s.status == "succeeded" or (
            s.status == "cancelled" and s.params["cancel_reason"].startswith("decided after"))
            for s in sts), [(s.status, s.params.get("cancel_reason")) for s in sts]
        elapsed = sum(s.elapsed_s or 0.0 for s in sts)  # counts the pause for each started run
        minutes_s = done.minutes * 60
        assert 0 < minutes_s <= elapsed - 0.8 * pause * len(started) + 0.5, (minutes_s, elapsed)
