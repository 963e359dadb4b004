"""decide: compare models adaptively and stop each benchmark as soon as the evidence decides.

Every candidate model answers the same tasks of each chosen benchmark, in one seeded random
order, batch by batch (ordinary runs with explicit task lists, queued through the service:
durable, cached, resumable). As soon as a task is scored for every model (and so are the
tasks before it in the order), its paired difference updates an anytime-valid confidence
sequence per dimension and pair (`adaptive_cs`), at 1 - confidence split over the pairs — not
only when the batch ends, so a decision reached mid-batch cancels the rest of the batch (the
reason recorded in its runs). A benchmark stops when each of its dimensions is decided — one
model separated above the others, or the top models provably within `margin` — or when its
share of the budget (by the priority weight of its dimensions) is spent; what a stopped
benchmark leaves of its share goes to the undecided ones by weight. Running out of budget
mid-batch cancels the batch's runs with the reason recorded (what they scored still counts);
a later call with a larger budget resumes them, and their minutes leave out the time they
sat cancelled. On a server that swaps models, batches are sized so that switches stay under
10 % of the time, and the models run in a snake order (A B | B A | ...) to save a switch per
batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

import anyio
from sqlalchemy.engine import Engine

from benchdock.harnesses.choice import adaptive_swap as swap
from benchdock.harnesses.choice import speeds
from benchdock.harnesses.choice.adaptive_cs import PairedCS, verdict
from benchdock.harnesses.choice.adaptive_rates import rate, tie_break, uninformative
from benchdock.harnesses.choice.adaptive_runs import scored_prefix, scored_tasks, working_seconds
from benchdock.harnesses.choice.adaptive_setup import (
    Batch,
    Track,
    choose,
    coverage,
    decision_id,
    load_state,
    restore,
    save_state,
    task_order,
)
from benchdock.harnesses.choice.adaptive_trace import DecisionTrace
from benchdock.harnesses.choice.adaptive_views import (
    BenchmarkSpend,
    DecideRequest,
    Decision,
    DimensionDecision,
    PairInterval,
)
from benchdock.harnesses.choice.estimates import Estimator
from benchdock.harnesses.config import EndpointConfig, Settings
from benchdock.harnesses.contract.benchmark import BenchmarkBase
from benchdock.harnesses.engine.evidence import summarise
from benchdock.harnesses.errors import BenchdockError
from benchdock.harnesses.service import operations as service
from benchdock.harnesses.service.views import RunRequest
from benchdock.store import evidence as ev
from benchdock.store import queries as q
from benchdock.store.tables import FINAL_STATUSES

Progress = Callable[[int, int, str], Awaitable[None]]
MIN_BATCH = 2  # a batch cut to fit the budget keeps at least this many tasks


class Decider:
    def __init__(self, settings: Settings, db: Engine, req: DecideRequest,
                 progress: Progress | None, skip: int = 0) -> None:
        """`skip`: tasks at the head of each benchmark's order that a screening used (the
        decision between its leaders starts after them, so the choice of the leaders does
        not bias their intervals)."""
        self.settings, self.db, self.req, self.progress = settings, db, req, progress
        self.skip = skip
        self.models = list(req.models)
        self.pairs = list(itertools.combinations(self.models, 2))
        self.alpha = (1 - req.confidence) / len(self.pairs)
        self.tracks: list[Track] = []
        self.notes: list[str] = []
        self.did = ""
        self.released: set[str] = set()

    # --- setting up ----------------------------------------------------------------------

    async def setup(self) -> None:
        if len(set(self.models)) != len(self.models):
            raise BenchdockError(f"models must differ, got {self.models}")
        benches: dict[str, BenchmarkBase] = {}
        for name in self.req.benchmarks or []:
            bench = service.benchmark(self.settings, name)
            why = bench.readiness()
            if why:
                raise BenchdockError(f"{bench.id} cannot run here: {why}")
            benches[bench.id] = bench
        plan, self.notes = choose(self.req, benches)
        endpoints: dict[str, tuple[EndpointConfig, str | None]] = {}
        for m in self.models:
            ep, status, _ = await service.find_model(self.settings, m, None)
            endpoints[m] = (ep, status.swapping)
        self.did = decision_id(self.req, list(plan), self.skip)
        saved = load_state(self.settings.home, self.did)
        probes, probed = await speeds.ensure(self.settings, self.db, self.models)
        self.notes += probed
        estimator = Estimator(ev.summaries(self.db), probes)
        total_w = sum(sum(d.values()) for d in plan.values())
        for bid, dims in plan.items():
            bench = benches[bid]
            ids = [t.id for t in await anyio.to_thread.run_sync(bench.tasks)]
            order = task_order(bench, ids, self.req.seed, self.req.tasks_per_benchmark,
                               self.skip)
            t = Track(bench, dims, order, coverage(bench, order, set(dims)))
            est = [estimator.per_task_s(m, bench) for m in self.models]
            t.per_task_s = sum(s for s, _ in est)
            t.basis = "; ".join(dict.fromkeys(b for _, b in est))
            t.share = self.req.budget_minutes * t.weight / total_w
            restore(t, saved)
            self.tracks.append(t)
        await self._size_batches(endpoints)

    async def _size_batches(self, endpoints: dict[str, tuple[EndpointConfig, str | None]]) -> None:
        by_url: dict[str, list[str]] = {}
        for m, (ep, swapping) in endpoints.items():
            if swapping:
                by_url.setdefault(ep.url, []).append(m)
        switch = 0.0
        fresh = [t for t in self.tracks if not t.batches]
        known = [t.switch_s for t in self.tracks if t.switch_s is not None]
        for url, models in by_url.items():
            if len(models) < 2 or not fresh:
                continue
            if known:
                switch = max(switch, *known)
                continue
            ep = endpoints[models[0]][0]
            costs = await anyio.to_thread.run_sync(swap.measure_switch, ep, models)
            for m, s in costs.items():
                swap.save_cost(self.settings.home, url, m, s)
            switch = max(switch, *costs.values())
        for t in fresh:
            t.switch_s = switch if by_url else None
            t.batch = self.req.batch or swap.batch_size(
                switch, t.per_task_s / len(self.models), len(self.models))

    # --- running ---------------------------------------------------------------------------

    async def run(self, wait_s: float | None) -> bool:
        """Advance until every benchmark has stopped (True) or `wait_s` passes (False)."""
        deadline = None if wait_s is None else anyio.current_time() + wait_s
        while True:
            live = [t for t in self.tracks if t.status == "running"]
            if not live:
                return True
            for t in sorted(live, key=lambda t: -t.weight):
                if not await self._advance(t, deadline):
                    save_state(self.settings.home, self.did, self.tracks)
                    return False
                self._release()

    async def first_batch(self, size: int, deadline: float | None) -> bool:
        """Every benchmark's first `size` tasks on every model (a screening), queued once;
        True when they have all ended, False when the deadline came first."""
        for t in self.tracks:
            batch = t.batches[0] if t.batches else await self._queue(
                t, 0, min(size, len(t.order)))
            if t.status == "running" and await self._wait(t, batch, deadline) == "timeout":
                save_state(self.settings.home, self.did, self.tracks)
                return False
        save_state(self.settings.home, self.did, self.tracks)
        return True

    def outstanding(self) -> list[str]:
        """Runs of this decision that have not ended."""
        return [r for r in self._run_ids()
                if service.run_status(self.settings, self.db, r).status not in FINAL_STATUSES]

    async def _advance(self, t: Track, deadline: float | None) -> bool:
        """One batch of `t`: the pending one, else a new one. False when the deadline came."""
        pending = next((b for b in t.batches if b.start + b.size > t.fed), None)
        if pending is None:
            start = t.next_start
            if start >= len(t.order):
                t.status, t.reason = "exhausted", "every task of the population was run"
                return True
            size = min(t.batch, len(t.order) - start)
            per_task = self._per_task(t)
            left_s = (t.share - t.spent) * 60
            if size * per_task > left_s:
                size = int(left_s / max(per_task, 1e-6))
                if size < MIN_BATCH:
                    t.status = "budget spent"
                    t.reason = f"its share of the budget ({t.share:.1f} min) is spent"
                    return True
            pending = await self._queue(t, start, size)
        outcome = await self._wait(t, pending, deadline)
        return outcome != "timeout"

    async def _queue(self, t: Track, start: int, size: int) -> Batch:
        tasks = t.order[start:start + size]
        models = self.models if len(t.batches) % 2 == 0 else self.models[::-1]  # snake order
        runs: dict[str, str] = {}
        for m in models:
            run = await service.queue_run(self.settings, self.db, RunRequest(
                model=m, benchmark=t.bench.id, tasks=tasks, max_tokens=self.req.max_tokens))
            runs[m] = run.id
        batch = Batch(start, size, runs)
        t.batches.append(batch)
        save_state(self.settings.home, self.did, self.tracks)
        return batch

    async def _wait(self, t: Track, batch: Batch, deadline: float | None) -> str:
        """Follow the batch's runs, feeding the sequences each task as soon as every model's
        outcome for it (and for the tasks before it) is scored; a decision mid-batch cancels
        the rest of the batch. 'succeeded', 'decided', 'failed', 'cancelled' or 'timeout'."""
        last = -1
        resumed = False
        while True:
            sts = [service.run_status(self.settings, self.db, r) for r in batch.runs.values()]
            minutes = sum(working_seconds(self.db, s, t.resumed.get(s.run_id))
                          for s in sts) / 60
            done = sum(s.done for s in sts)
            t.live = minutes
            final = all(s.status in FINAL_STATUSES for s in sts)
            if done != last or final:
                self._feed(t, batch)
            if self.progress is not None and done != last:
                await self.progress(max(t.fed, batch.start + done // len(self.models)),
                                    len(t.order), self._message(t, done, sum(s.total for s in sts)))
            last = done
            if t.status == "decided":
                reason = f"{t.reason}: the rest of the batch is not needed"
                for s in sts:
                    if s.status not in FINAL_STATUSES and s.run_id not in t.cancelled:
                        service.cancel_run(self.db, s.run_id, reason)
                        t.cancelled[s.run_id] = reason
                t.spent, t.live = t.spent + minutes, 0.0
                t.samples += done
                save_state(self.settings.home, self.did, self.tracks)
                return "decided"
            if final:
                failed = [s for s in sts if s.status == "failed"]
                cancelled = [s for s in sts if s.status == "cancelled"]
                if failed:
                    t.status = "failed"
                    t.reason = f"run {failed[0].run_id} failed: {failed[0].error}"
                    return "failed"
                if cancelled:
                    if t.spent + minutes < t.share and not resumed:  # a larger budget now
                        for s in cancelled:
                            if s.elapsed_s is not None and s.finished_at is not None:
                                t.resumed[s.run_id] = s.finished_at.isoformat()
                            service.resume_run(self.settings, self.db, s.run_id)
                        save_state(self.settings.home, self.did, self.tracks)
                        resumed = True
                        continue
                    # the time was spent, though the batch is not used
                    t.spent, t.live = t.spent + minutes, 0.0
                    t.samples += done
                    t.status = "budget spent"
                    t.reason = t.reason or t.cancelled.get(cancelled[0].run_id, "cancelled")
                    return "cancelled"
                t.spent, t.live = t.spent + minutes, 0.0
                t.samples += done
                return "succeeded"
            if t.spent + minutes > t.share and not resumed:
                reason = (f"budget: {t.bench.id}'s share ({t.share:.1f} min) spent mid-batch; "
                          "resumed by decide with a larger budget")
                for s in sts:
                    if s.status not in FINAL_STATUSES and s.run_id not in t.cancelled:
                        service.cancel_run(self.db, s.run_id, reason)
                        t.cancelled[s.run_id] = reason
                t.reason = reason
                save_state(self.settings.home, self.did, self.tracks)
            if deadline is not None and anyio.current_time() >= deadline:
                return "timeout"
            await anyio.sleep(0.5)

    def _feed(self, t: Track, batch: Batch) -> None:
        """Feed the batch's scored prefix (from where the sequences stand) one task at a time,
        checking after each, so the decision comes at the same task however the samples
        were polled."""
        runs = list(batch.runs.items())
        upto = scored_prefix(t.order[:batch.start + batch.size], t.fed,
                             [scored_tasks(self.db, rid) for _, rid in runs])
        if upto <= t.fed:
            return
        values = {m: outcomes(self.db, rid, t.bench) for m, rid in runs}
        for x in t.order[t.fed:upto]:
            for d in t.weights:
                if x not in t.covered[d]:
                    continue
                for m in self.models:
                    if x in values[m].get(d, {}):
                        t.outcomes.setdefault((d, m), []).append(values[m][d][x])
                for a, b in self.pairs:
                    cs = t.cs.setdefault((d, a, b), PairedCS(len(t.covered[d]), self.alpha))
                    va, vb = values[a].get(d, {}), values[b].get(d, {})
                    cs.update([va[x] - vb[x] if x in va and x in vb else 0.0])
            t.fed += 1
            self._check(t)
            if t.status != "running":
                return

    def _check(self, t: Track) -> None:
        states = [self.dimension(t, d).status for d in t.weights]
        if all(s in ("separated", "equivalent", "not informative") for s in states):
            t.status = "decided"
            t.reason = f"decided after {t.fed} of {len(t.order)} tasks" + (
                " (not informative: every model at the floor or the ceiling)"
                if "not informative" in states else "")
        elif t.fed >= len(t.order):
            t.status, t.reason = "exhausted", "every task of the population was run"

    def _release(self) -> None:
        """Give what stopped benchmarks left of their share to the running ones, by weight."""
        live = [t for t in self.tracks if t.status == "running"]
        weight = sum(t.weight for t in live)
        for t in self.tracks:
            if t.status != "running" and t.bench.id not in self.released:
                self.released.add(t.bench.id)
                freed = t.share - t.spent
                t.share = t.spent
                for o in live:
                    o.share += freed * o.weight / weight

    # --- reading ---------------------------------------------------------------------------

    def _pair_interval(self, t: Track, d: str, a: str, b: str) -> PairInterval:
        cs = t.cs.get((d, a, b))
        if cs is None or cs.t == 0:
            return PairInterval(a=a, b=b, lower=-1.0, upper=1.0, tasks=0, verdict="no data yet")
        lo, hi = cs.interval()
        return _interval(a, b, float(lo[0]), float(hi[0]), cs.t, self.req.margin)

    def dimension(self, t: Track, d: str) -> DimensionDecision:
        pairs = [self._pair_interval(t, d, a, b) for a, b in self.pairs]
        status, winner, equal = _settle(self.models, pairs, self.req.margin)
        rates = [rate(m, t.outcomes.get((d, m), [])) for m in self.models]
        bound = uninformative(rates)
        note = None
        if bound is not None and status != "separated":
            status, winner, equal = "not informative", None, None
            note = (f"every model scored {bound:g} on all {min(r.n for r in rates)} tasks so "
                    f"far ({'the floor' if bound == 0 else 'the ceiling'}): {t.bench.id} "
                    "cannot tell these models apart on this dimension; it is left out of the "
                    "overall verdict")
        elif status == "open" and t.status in ("budget spent", "failed"):
            status = "undecided at budget" if t.status == "budget spent" else "failed"
        return DimensionDecision(
            dimension=d, weight=round(t.weights[d], 4), benchmark=t.bench.id, status=status,
            winner=winner, equivalent=equal, intervals=pairs, rates=rates, note=note,
            tasks=max((p.tasks for p in pairs), default=0), population=len(t.covered[d]))

    def _message(self, t: Track, done: int, total: int) -> str:
        parts = []
        for d in t.weights:
            for p in self.dimension(t, d).intervals:
                parts.append(f"{d}: {p.a}-{p.b} in [{p.lower:+.2f}, {p.upper:+.2f}] after "
                             f"{p.tasks} tasks ({p.verdict})")
        return (f"{t.bench.id}: batch at {t.fed}/{len(t.order)} tasks, {done}/{total} "
                f"samples scored; " + "; ".join(parts))

    def result(self, finished: bool) -> Decision:
        dims = [self.dimension(t, d) for t in self.tracks for d in t.weights]
        overall = self._overall(dims)
        _, winner, equal = _settle(self.models, overall, self.req.margin)
        minutes = sum(t.spent + t.live for t in self.tracks)
        full = sum(self._full(t) for t in self.tracks)
        choice, rule = winner, None
        if winner:
            text = f"{winner} is better under the priorities"
        elif equal:
            text = f"{', '.join(equal)} are equivalent within +-{self.req.margin} under the priorities"
            choice, rule = tie_break(self.db, equal, self._run_ids())
        elif finished:
            text = "undecided at budget: the intervals still include both a difference and none"
        else:
            text = ("in progress in the background: call decide again with the same arguments "
                    "for its state (or wait_s to wait for it)")
        if finished and all(p.tasks == 0 for p in overall) and any(
                d.status == "not informative" for d in dims):
            text = ("not informative: every benchmark used left all models at the floor or "
                    "the ceiling")
        live = [t for t in self.tracks if t.status == "running"]
        left = sum(max(0.0, t.share - t.spent - t.live) for t in live)
        todo = sum(max(0, len(t.order) - t.fed) * self._per_task(t) / 60 for t in live)
        return Decision(
            decision_id=self.did, status="finished" if finished else "running", verdict=text,
            winner=winner, choice=choice, choice_rule=rule, overall=overall, dimensions=dims,
            benchmarks=[self._spend(t) for t in self.tracks], minutes=round(minutes, 2),
            budget_minutes=self.req.budget_minutes,
            eta_minutes=None if finished else round(min(left, todo), 1),
            full_minutes=round(full, 2), time_ratio=round(minutes / full, 3) if full else None,
            not_decided=[n for n in self.notes if " is not decided" in n] or None,
            notes=[*(n for n in self.notes if " is not decided" not in n),
                   f"Intervals hold at all times together with probability >= "
                   f"{self.req.confidence} per dimension (split over {len(self.pairs)} "
                   "pair(s)); the overall one is their weighted sum and holds when they all "
                   "do. A task without an outcome for one model counts as no difference.",
                   "full_minutes: every task of each benchmark (or subset) on every model, "
                   "from measured per-task times where there are any."])

    def _overall(self, dims: Sequence[DimensionDecision]) -> list[PairInterval]:
        out = []
        for i, (a, b) in enumerate(self.pairs):
            rows = [(d.weight, d.intervals[i]) for d in dims
                    if d.intervals[i].tasks and d.status != "not informative"]
            w = sum(x for x, _ in rows)
            if not w:
                out.append(PairInterval(a=a, b=b, lower=-1, upper=1, tasks=0,
                                        verdict="no data yet"))
                continue
            lo = sum(x * p.lower for x, p in rows) / w
            hi = sum(x * p.upper for x, p in rows) / w
            out.append(_interval(a, b, lo, hi, sum(p.tasks for _, p in rows), self.req.margin))
        return out

    def _run_ids(self) -> list[str]:
        return [r for t in self.tracks for b in t.batches for r in b.runs.values()]

    def _per_task(self, t: Track) -> float:
        """Seconds per task, all models together: measured here (minutes over the samples
        those minutes scored) once there is any, else the estimate."""
        if t.samples and t.spent:
            return t.spent * 60 / (t.samples / len(self.models))
        return t.per_task_s

    def _full(self, t: Track) -> float:
        per_task = self._per_task(t)
        loads = (t.switch_s or 0.0) * len(self.models)
        return (len(t.order) * per_task + loads) / 60

    def _spend(self, t: Track) -> BenchmarkSpend:
        return BenchmarkSpend(
            benchmark=t.bench.id, status=t.status, reason=t.reason, batch=t.batch,
            batches=len(t.batches), tasks_per_model=t.fed, population=len(t.order),
            minutes=round(t.spent, 2), full_minutes=round(self._full(t), 2),
            estimate_basis=(f"measured here in this decision ({t.fed} tasks)" if t.fed
                            else t.basis),
            switch_s=t.switch_s, runs=[r for b in t.batches for r in b.runs.values()],
            cancelled=t.cancelled or None)


def _interval(a: str, b: str, lo: float, hi: float, n: int, margin: float) -> PairInterval:
    v = verdict(lo, hi, margin)
    text = {"a": f"{a} better", "b": f"{b} better", "equivalent": f"within +-{margin}",
            "open": "open"}[v]
    return PairInterval(a=a, b=b, lower=round(lo, 4), upper=round(hi, 4), tasks=n, verdict=text)


Settled = Literal["separated", "equivalent", "open", "undecided at budget", "failed",
                  "not informative"]


def _settle(models: Sequence[str], pairs: Sequence[PairInterval],
            margin: float) -> tuple[Settled, str | None, list[str] | None]:
    """('separated', winner, None), ('equivalent', None, the top models) or ('open', ...).
    The top models are those no other is separated above; they are equivalent when every
    pair of them is within the margin."""
    beaten = set()
    for p in pairs:
        v = verdict(p.lower, p.upper, margin) if p.tasks else "open"
        if v == "a":
            beaten.add(p.b)
        elif v == "b":
            beaten.add(p.a)
    top = [m for m in models if m not in beaten]
    if len(top) == 1:
        return "separated", top[0], None
    inner = [p for p in pairs if p.a in top and p.b in top]
    if inner and all(p.tasks and verdict(p.lower, p.upper, margin) == "equivalent"
                     for p in inner):
        return "equivalent", None, top
    return "open", None, None


def outcomes(db: Engine, run_id: str, bench: BenchmarkBase) -> dict[str, dict[str, float]]:
    """dimension -> task -> the run's per-task outcome, through the benchmark's map."""
    run = q.get_run(db, run_id)
    if run is None:
        return {}
    _, rows = summarise(run, q.all_samples(db, run_id), bench)
    out: dict[str, dict[str, float]] = {}
    for row in rows:
        ids = row.task_ids.split("\n") if row.task_ids else []
        vals = row.values if row.values is not None else [
            1.0 if c == "1" else 0.0 for c in row.outcomes]
        per = out.setdefault(row.dimension, {})
        for tid, v in zip(ids, vals, strict=False):
            per.setdefault(tid, float(v))
    return out


async def decide(settings: Settings, db: Engine, req: DecideRequest,
                 progress: Progress | None = None, wait_s: float | None = None) -> Decision:
    """Set up (or continue) the decision and advance it for up to `wait_s` seconds (None:
    to the end)."""
    d = Decider(settings, db, req, progress)
    await d.setup()
    trace = DecisionTrace(settings.home, d.did, req)  # what the viewer shows of it
    d.progress = trace.follow(lambda: d.result(False), progress)
    finished = await d.run(wait_s)
    save_state(settings.home, d.did, d.tracks)
    answer = d.result(finished)
    trace.record(answer)
    return answer
