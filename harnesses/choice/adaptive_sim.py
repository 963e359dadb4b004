"""Validity by simulation: replay the adaptive procedure on populations of paired per-task
outcomes whose true mean difference is known, many times in seeded random orders, and count
how often it decides wrongly and how many tasks it needs.

A wrong decision is: a winner named when the true difference is 0 or of the other sign, or
"equivalent" when the true difference is at least the margin. The procedure checks the
confidence sequence after every task (as `decide` does) or, for comparison, only when a batch
ends, and stops at the first verdict.
The fixed-size plan it is compared with is the full benchmark (what `plan_evaluation`
queues) and, for reference, the classic fixed-n sample size for 80 % power. The same
replays run on the paired outcomes of real stored runs (`stored_population`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy.engine import Engine

from benchdock.harnesses.choice.adaptive_cs import PairedCS
from benchdock.harnesses.choice.stats import tasks_to_separate
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.errors import BenchdockError
from benchdock.store import queries as q


@dataclass(frozen=True)
class SimResult:
    population: int
    true_diff: float
    replays: int
    error_rate: float  # share of replays with a wrong decision
    decided_rate: float  # share that decided before the last task
    verdicts: dict[str, int]
    mean_tasks: float  # tasks per model until the decision (or the end)
    mean_cost: float  # tasks per model run by then (a batch's first model runs all of it)
    fixed_tasks: int  # the full benchmark
    fixed_power_tasks: int | None  # fixed-n for 80 % power at this difference (unpaired)


def population(n: int, p_a: float, p_b: float, concordance: float = 0.5,
               seed: int = 0) -> npt.NDArray[np.float64]:
    """N paired differences of two pass/fail models with pass rates exactly p_a and p_b on
    the population: a share `concordance` of tasks both models get alike, the rest split into
    wins and losses to give the rates. Returns A - B per task."""
    wins_minus_losses = round((p_a - p_b) * n)
    discordant = max(abs(wins_minus_losses), round((1 - concordance) * n))
    if (discordant - wins_minus_losses) % 2:
        discordant += 1
    discordant = min(discordant, n)
    wins = (discordant + wins_minus_losses) // 2
    losses = discordant - wins
    d = np.zeros(n)
    d[:wins] = 1.0
    d[wins:wins + losses] = -1.0
    return np.random.default_rng(seed).permutation(d)


def wrong(verdict: str, true_diff: float, margin: float) -> bool:
    if verdict == "a":
        return true_diff <= 0
    if verdict == "b":
        return true_diff >= 0
    if verdict == "equivalent":
        return abs(true_diff) >= margin
    return False


def replay(diffs: Sequence[float] | npt.NDArray[np.float64], *, alpha: float, margin: float,
           batch: int, replays: int, seed: int, mid_batch: bool = False) -> SimResult:
    """Replay the procedure `replays` times on the population `diffs` (A - B per task),
    each in its own seeded random order. `mid_batch`: check after every task (as `decide`
    does: a task counts once both models' outcomes are scored), the cost being what the
    models ran by then — the first model of a batch all of it, the second up to the
    decision; else check only when a batch ends (the rule before)."""
    pop = np.asarray(diffs, dtype=np.float64)
    n = pop.size
    rng = np.random.default_rng(seed)
    orders = np.stack([rng.permutation(pop) for _ in range(replays)])
    cs = PairedCS(n, alpha, replays)
    stopped = np.zeros(replays, dtype=bool)
    verdicts = np.full(replays, "open", dtype=object)
    tasks = np.full(replays, n)
    step = 1 if mid_batch else batch
    for start in range(0, n, step):
        cs.update(orders[:, start:start + step])
        lo, hi = cs.interval()
        now = np.where(lo > 0, "a", np.where(hi < 0, "b", np.where(
            (lo > -margin) & (hi < margin), "equivalent", "open")))
        new = (~stopped) & (now != "open")
        verdicts[new] = now[new]
        tasks[new] = cs.t
        stopped |= new
        if stopped.all():
            break
    batch_end = np.minimum(n, -(-tasks // batch) * batch)
    cost = (tasks + batch_end) / 2 if mid_batch else tasks
    true = float(pop.mean())
    counts = {v: int((verdicts == v).sum()) for v in ("a", "b", "equivalent", "open")}
    errors = sum(wrong(str(v), true, margin) for v in verdicts)
    p_b = 0.5  # the power figure needs two rates: centre them on 0.5
    return SimResult(
        population=n, true_diff=true, replays=replays, error_rate=errors / replays,
        decided_rate=float((stopped & (tasks < n)).mean()), verdicts=counts,
        mean_tasks=float(tasks.mean()), mean_cost=float(np.mean(cost)), fixed_tasks=n,
        fixed_power_tasks=tasks_to_separate(p_b + true / 2, p_b - true / 2))


def resampled(diffs: Sequence[float] | npt.NDArray[np.float64], n: int,
              seed: int = 0) -> npt.NDArray[np.float64]:
    """A population of `n` paired differences drawn (seeded, with replacement) from `diffs`:
    the whole benchmark as the tasks seen so far suggest it is, for replaying a decision made
    on a prefix of a benchmark at the benchmark's own size."""
    pop = np.asarray(diffs, dtype=np.float64)
    if pop.size == 0:
        raise BenchdockError("no paired differences to draw from")
    return np.random.default_rng(seed).choice(pop, size=n, replace=True)


def stored_population(db: Engine, runs_a: Sequence[str], runs_b: Sequence[str],
                      dimension: str) -> npt.NDArray[np.float64]:
    """The paired differences (A - B) on `dimension` over the tasks both models ran in the
    stored runs given (each model's runs pooled; the first outcome of a task counts)."""
    from benchdock.harnesses.choice.adaptive import outcomes

    def pooled(run_ids: Sequence[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        for rid in run_ids:
            run = q.get_run(db, rid)
            if run is None:
                raise BenchdockError(f"unknown run id {rid!r}")
            per = outcomes(db, rid, get_benchmark(run.benchmark)).get(dimension, {})
            for t, v in per.items():
                out.setdefault(t, v)
        return out

    a, b = pooled(runs_a), pooled(runs_b)
    shared = [t for t in a if t in b]
    if not shared:
        raise BenchdockError(f"the runs share no task with an outcome on {dimension}")
    return np.array([a[t] - b[t] for t in shared])
