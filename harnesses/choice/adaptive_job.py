"""`decide` as a durable job: once asked, the worker keeps queuing batches until the decision
is made or the budget is spent; a call to the tool only starts it, or reads where it stands.

Why in the worker: the loop outlives the MCP call that asked for it (a client gives up on a
call after about a minute; a decision takes minutes to hours), so an agent asks once and
then reads the state with one cheap call, instead of calling again and again to push it on.
The job is keyed by the decision id (the models, benchmarks, seed, subset and max_tokens
that fix its runs): asking again with the same arguments finds it; a larger budget or
another margin updates the running job (it starts over from its state, reusing every run)
or queues a finished one again.

More than four models: a screening first runs every model on the first `SCREEN_TASKS`
tasks of each benchmark (the same tasks, in the same seeded order), ranks them by their
priority-weighted pass rate there and keeps the best four (ties: the order they were
listed in); the decision between those four then starts after the screened tasks, so the
choice of the leaders does not bias their intervals. Its minutes come out of the budget.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
from sqlalchemy.engine import Engine

from benchdock.harnesses.choice.adaptive import Decider
from benchdock.harnesses.choice.adaptive_setup import choose, decision_id
from benchdock.harnesses.choice.adaptive_views import DecideRequest, Decision, Screening
from benchdock.harnesses.config import Settings
from benchdock.harnesses.contract.benchmark import BenchmarkBase
from benchdock.harnesses.engine.jobs import JobContext, JobStopped
from benchdock.harnesses.engine.worker import spawn_worker, worker_running
from benchdock.harnesses.errors import BenchdockError
from benchdock.harnesses.service import operations as service
from benchdock.store import jobs
from benchdock.store.tables import FINAL_STATUSES, Job

MAX_FINAL = 4  # models decided between at once; more are screened first
SCREEN_TASKS = 10  # tasks per benchmark a screening runs on every model
ROUND_S = 5.0  # the job looks for a cancel or new settings this often
PUBLISH_S = 1.0  # and writes its state for the tool at most this often
SCREEN_RULE = (f"every model ran the first {SCREEN_TASKS} tasks of each benchmark (the same "
               "ones); the four with the highest priority-weighted pass rate there go on "
               "(ties: the order they were listed in), and the decision between them uses "
               "the tasks after those")


def plan_of(settings: Settings, req: DecideRequest) -> tuple[str, list[str]]:
    """The decision's id and its notes, checking the benchmarks asked for are ready; no
    endpoint is asked (reading a running decision must not depend on a busy endpoint)."""
    if len(set(req.models)) != len(req.models):
        raise BenchdockError(f"models must differ, got {req.models}")
    benches: dict[str, BenchmarkBase] = {}
    for name in req.benchmarks or []:
        bench = service.benchmark(settings, name)
        why = bench.readiness()
        if why:
            raise BenchdockError(f"{bench.id} cannot run here: {why}")
        benches[bench.id] = bench
    chosen, notes = choose(req, benches)
    return decision_id(req, list(chosen)), notes


def _params(req: DecideRequest) -> dict[str, Any]:
    return {"request": req.model_dump(mode="json")}


async def request(settings: Settings, db: Engine, req: DecideRequest,
                  cancel: bool = False) -> Decision:
    """Start the decision, find it, give it new settings, or cancel it; never waits."""
    did, notes = plan_of(settings, req)
    job = jobs.latest(db, "decide", did)
    if job is None and not cancel:
        for m in req.models:  # a new decision: its models must be on an endpoint
            await service.find_model(settings, m, None)
    if cancel:
        if job is None or job.status in FINAL_STATUSES:
            raise BenchdockError(f"decision {did} is not running")
        jobs.request_cancel(db, job.id)
        return state(settings, db, did)
    if job is None:
        job = jobs.add(db, "decide", did, _params(req))
    elif job.params != _params(req):
        if job.status in FINAL_STATUSES:
            jobs.requeue(db, job.id, _params(req))
        else:
            jobs.set_params(db, job.id, _params(req))  # the job starts over from its state
    elif job.status in ("failed", "cancelled"):
        jobs.requeue(db, job.id)  # asked again: try again
    spawn_worker(settings)
    return state(settings, db, did, notes)


def state(settings: Settings, db: Engine, did: str, notes: list[str] | None = None) -> Decision:
    """Where the decision stands, as the job last wrote it."""
    job = jobs.latest(db, "decide", did)
    if job is None:
        raise BenchdockError(f"unknown decision {did!r}")
    if job.status not in FINAL_STATUSES and not worker_running(settings) and \
            jobs.pending_here(db, ["decide"]):
        spawn_worker(settings)  # its worker died: another carries on from its runs
    snap = dict(job.result) if job.result else None
    if snap is None:
        req = DecideRequest.model_validate(job.params["request"])
        return Decision(
            decision_id=did, status="queued" if job.status == "queued" else "running",
            verdict=(f"{job.status}: the worker sets the decision up (benchmarks, task order, "
                     "switch costs); call decide again, same arguments, for its state"
                     if job.status not in FINAL_STATUSES else f"{job.status}: {job.error}"),
            overall=[], dimensions=[], benchmarks=[], minutes=0.0,
            budget_minutes=req.budget_minutes, full_minutes=0.0, notes=notes or [])
    d = Decision.model_validate(snap)
    d.decision_id = did  # the job's (after a screening, its leaders' decision has its own)
    if job.status in ("failed", "cancelled"):
        d.status = job.status  # type: ignore[assignment]
        d.verdict = f"{job.status}: {job.error or 'stopped'}; {d.verdict}"
    elif job.status == "queued" and d.status == "finished":
        d.status = "queued"  # asked again with new settings: it starts over
    return d


async def wait(settings: Settings, db: Engine, did: str, timeout_s: float) -> Decision:
    deadline = anyio.current_time() + timeout_s
    while True:
        d = state(settings, db, did)
        if d.status in ("finished", "failed", "cancelled") or anyio.current_time() >= deadline:
            return d
        await anyio.sleep(0.5)


# --- the worker's part ----------------------------------------------------------------------

class _Restart(Exception):
    """New settings arrived: set the decision up again from its state."""


def run_job(ctx: JobContext) -> dict[str, Any]:
    while True:
        try:
            return anyio.run(_run, ctx)
        except _Restart:
            continue


async def _run(ctx: JobContext) -> dict[str, Any]:
    params = ctx.params
    req = DecideRequest.model_validate(params["request"])
    settings, db = ctx.settings, ctx.db
    last = 0.0
    current: list[Decider] = []
    screening: Screening | None = None

    def publish(d: Decider, finished: bool, force: bool = False) -> Decision:
        nonlocal last
        decision = d.result(finished)
        decision.screening = screening
        if screening is not None:
            decision.minutes = round(decision.minutes + screening.minutes, 2)
            decision.budget_minutes = req.budget_minutes
        if force or time.monotonic() - last >= PUBLISH_S:
            last = time.monotonic()
            fed = sum(t.fed for t in d.tracks)
            pop = sum(len(t.order) for t in d.tracks)
            ctx.progress(done=fed, total=pop, message=decision.verdict[:300],
                         eta_s=(decision.eta_minutes or 0) * 60,
                         result=decision.model_dump(mode="json"))
        return decision

    async def progress(done: int, total: int, message: str) -> None:
        if current:
            publish(current[-1], False)

    async def rounds(d: Decider) -> bool:
        """Advance `d` to the end, a round at a time, watching for a cancel and new settings."""
        while True:
            finished = await d.run(ROUND_S) if d.tracks else True
            if finished:
                return True
            publish(d, False, force=True)
            _watch(ctx, d, params)

    if len(req.models) > MAX_FINAL:
        scr = Decider(settings, db, req, progress)
        current.append(scr)
        await scr.setup()
        while not await scr.first_batch(SCREEN_TASKS, anyio.current_time() + ROUND_S):
            publish(scr, False, force=True)
            _watch(ctx, scr, params)
        screening, leaders = _leaders(scr, req)
        req = req.model_copy(update={
            "models": leaders,
            "budget_minutes": max(0.01, req.budget_minutes - screening.minutes)})
        final = Decider(settings, db, req, progress, skip=SCREEN_TASKS)
    else:
        final = Decider(settings, db, req, progress)
    current.append(final)
    await final.setup()
    publish(final, False, force=True)
    await rounds(final)
    return publish(final, True, force=True).model_dump(mode="json")


def _watch(ctx: JobContext, d: Decider, params: dict[str, Any]) -> None:
    """Stop on a cancel (cancelling the decision's runs), start over on new settings."""
    job: Job = ctx.refresh()
    if ctx.stopping():
        if not ctx.lost.is_set():
            for rid in d.outstanding():
                service.cancel_run(ctx.db, rid, "the decision was cancelled")
        raise JobStopped("cancelled" if not ctx.lost.is_set() else "lease lost")
    if job.params != params:
        raise _Restart


def _leaders(scr: Decider, req: DecideRequest) -> tuple[Screening, list[str]]:
    """Each model's priority-weighted pass rate on the screened tasks; the best four."""
    score: dict[str, float] = {}
    weight = 0.0
    for t in scr.tracks:
        for d, w in t.weights.items():
            weight += w
            for m in req.models:
                vals = t.outcomes.get((d, m), [])
                score[m] = score.get(m, 0.0) + w * (sum(vals) / len(vals) if vals else 0.0)
    rates = {m: round(score.get(m, 0.0) / weight, 4) if weight else 0.0 for m in req.models}
    order = sorted(req.models, key=lambda m: (-rates[m], req.models.index(m)))
    spent = sum(t.spent for t in scr.tracks)
    return Screening(models=len(req.models), tasks_per_benchmark=SCREEN_TASKS, rates=rates,
                     leaders=order[:MAX_FINAL], rule=SCREEN_RULE,
                     minutes=round(spent, 2)), order[:MAX_FINAL]
