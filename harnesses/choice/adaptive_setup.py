"""Setting up a decision: which benchmarks answer the priorities, each one's seeded task
order, its share of the budget, its batch size; and the decision's state file.

The state (BENCHDOCK_HOME/decisions/ID.json) holds only what cannot be recomputed: the runs
queued for each batch, the batch sizes, the measured switch costs and when each run decide
resumed had been cancelled (so its minutes leave that pause out). The intervals are
recomputed from those runs on every call, so a call that continues a decision — later, with
a larger budget, a different margin — reuses every run already made. The id is a hash of
what fixes the runs (models, benchmarks, seed, subset size, max_tokens).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchdock.harnesses.choice.adaptive_cs import PairedCS
from benchdock.harnesses.choice.adaptive_views import DecideRequest
from benchdock.harnesses.choice.catalogue import run_options, saturation_note
from benchdock.harnesses.choice.profiles import resolve
from benchdock.harnesses.contract.benchmark import BenchmarkBase
from benchdock.harnesses.errors import BenchdockError
from benchdock.harnesses.service.setup import hint


@dataclass
class Batch:
    start: int  # position in the track's task order
    size: int
    runs: dict[str, str]  # model -> run id


@dataclass
class Track:
    """One benchmark of a decision, and where it stands."""

    bench: BenchmarkBase
    weights: dict[str, float]  # the dimensions it decides -> priority weight
    order: list[str]  # the population, in its seeded random order
    covered: dict[str, set[str]]  # dimension -> tasks of the population that count for it
    batch: int = 8
    switch_s: float | None = None
    share: float = 0.0  # minutes it may spend
    spent: float = 0.0  # minutes its runs took
    live: float = 0.0  # minutes the batch under way has taken so far (not yet in `spent`)
    samples: int = 0  # samples those runs scored (all models): spent / samples = per sample
    per_task_s: float = 0.0  # estimated seconds per task, all models together
    basis: str = ""
    batches: list[Batch] = field(default_factory=list)
    fed: int = 0  # tasks fed to the sequences
    status: str = "running"
    reason: str | None = None
    cancelled: dict[str, str] = field(default_factory=dict)
    resumed: dict[str, str] = field(default_factory=dict)  # run id -> when it had been cancelled
    cs: dict[tuple[str, str, str], PairedCS] = field(default_factory=dict)
    # (dimension, model) -> its outcomes on the tasks fed, for its own rate
    outcomes: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    @property
    def weight(self) -> float:
        return sum(self.weights.values())

    @property
    def next_start(self) -> int:
        return self.batches[-1].start + self.batches[-1].size if self.batches else 0


def choose(req: DecideRequest, benches: dict[str, BenchmarkBase]) -> tuple[
        dict[str, dict[str, float]], list[str]]:
    """benchmark id -> {dimension: weight} and notes on what is left out. With `benchmarks`
    given, those (each deciding the weighted dimensions it measures; all its dimensions
    alike when no priorities are given); else per weighted dimension the first ready
    benchmark of the catalogue's order (least saturated, most relevant tasks, broadest)."""
    notes: list[str] = []
    out: dict[str, dict[str, float]] = {}
    if req.benchmarks:
        weights = resolve(req.priorities)[0] if req.priorities is not None else None
        for bid, bench in benches.items():
            dims = {m.dimension for m in bench.dimension_metrics()}
            if weights is None:
                chosen = dict.fromkeys(sorted(dims), 1.0)
            else:
                chosen = {d: w for d, w in weights.items() if d in dims}
            if not chosen:
                raise BenchdockError(f"{bid} measures {sorted(dims)}, none of them weighted in "
                                     "the priorities; drop it or weight one of them")
            out[bid] = chosen
        return out, notes
    weights = resolve(req.priorities)[0]
    for dim, w in sorted(weights.items(), key=lambda dw: -dw[1]):
        options = [o.bench for o in run_options(dim)]
        ready = [b for b in options if b.readiness() is None]
        if not ready:
            fix = next((h for b in options if (h := hint(b))), None)
            notes.append(f"{dim} ({w:.0%} of the weight) is not decided: no benchmark that "
                         "measures it is ready here; " + (
                             f"{fix} would make one ready" if fix else
                             "list_benchmarks says what is missing"))
            continue
        out.setdefault(ready[0].id, {})[dim] = w
        benches.setdefault(ready[0].id, ready[0])
        note = saturation_note(ready[0], dim)
        if note:
            notes.append(f"{dim} is decided on {note}")
    if not out:
        raise BenchdockError("no ready benchmark measures the weighted dimensions; "
                             "list_benchmarks says what each needs")
    return out, notes


def task_order(bench: BenchmarkBase, ids: list[str], seed: int, limit: int | None,
               skip: int = 0) -> list[str]:
    """The population in its seeded random order, after the first `skip` (a screening's)."""
    order = list(ids)
    random.Random(f"{seed}/{bench.id}").shuffle(order)
    return (order[:limit] if limit else order)[skip:]


def coverage(bench: BenchmarkBase, order: list[str], dims: set[str]) -> dict[str, set[str]]:
    metrics = [m for m in bench.dimension_metrics() if m.dimension in dims]
    return {d: {t for t in order
                if any(m.covers(bench.part(t)) for m in metrics if m.dimension == d)}
            for d in dims}


def decision_id(req: DecideRequest, bench_ids: list[str], skip: int = 0) -> str:
    """What fixes the runs; `skip`: the tasks a screening used first (its leaders' decision
    starts after them)."""
    parts: list[object] = [req.models, sorted(bench_ids), req.seed, req.tasks_per_benchmark,
                           req.max_tokens]
    if skip:
        parts.append(skip)
    key = json.dumps(parts)
    return hashlib.sha1(key.encode()).hexdigest()[:12]


def state_path(home: Path, did: str) -> Path:
    return home / "decisions" / f"{did}.json"


def load_state(home: Path, did: str) -> dict[str, Any]:
    try:
        data = json.loads(state_path(home, did).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_state(home: Path, did: str, tracks: list[Track]) -> None:
    data = {t.bench.id: {"batch": t.batch, "switch_s": t.switch_s, "cancelled": t.cancelled,
                         "resumed": t.resumed,
                         "batches": [[b.start, b.size, b.runs] for b in t.batches]}
            for t in tracks}
    path = state_path(home, did)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def restore(track: Track, saved: dict[str, Any]) -> None:
    mine = saved.get(track.bench.id)
    if not isinstance(mine, dict):
        return
    track.batch = int(mine.get("batch") or track.batch)
    track.switch_s = mine.get("switch_s")
    track.cancelled = dict(mine.get("cancelled") or {})
    track.resumed = dict(mine.get("resumed") or {})
    track.batches = [Batch(int(s), int(n), dict(r)) for s, n, r in mine.get("batches", [])]
