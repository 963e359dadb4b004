"""Turning a finished run's samples into dimension evidence, through the map its benchmark
declares (`BenchmarkBase.dimension_metrics`).

This happens once per run, when it ends (and, for runs stored before this existed or under
an older map, the first time a comparison needs them), so comparisons never read samples.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.engine import Engine

from benchdock.harnesses.contract.benchmark import BenchmarkBase
from benchdock.harnesses.contract.registry import UnknownBenchmark, get_benchmark
from benchdock.store import evidence as ev
from benchdock.store import queries as q
from benchdock.store.tables import DimensionEvidence, Run, RunSummary, Sample

log = logging.getLogger("benchdock.evidence")

# bump when the map or the summary format changes: stored runs are summarised again
# (2: a run's options are one `options` mapping, whatever the benchmark)
EVIDENCE_VERSION = 2


def summarise(run: Run, samples: Sequence[Sample],
              bench: BenchmarkBase | None) -> tuple[RunSummary, list[DimensionEvidence]]:
    """The run's summary (identity, settings, speed) and its evidence rows. A benchmark this
    release no longer knows (`bench` None) keeps its summary and gives no evidence."""
    scored = [s for s in samples if s.verdict is not None]
    fresh = [s for s in scored if not s.cached and s.latency_s is not None]
    with_tokens = [s for s in fresh if s.completion_tokens]
    ttfts = [s.ttft_s for s in fresh if s.ttft_s is not None]
    wall = ((run.finished_at - run.started_at).total_seconds()
            if run.finished_at and run.started_at else None)
    summary = RunSummary(
        run_id=run.id, version=EVIDENCE_VERSION, model=run.model, benchmark=run.benchmark,
        family=bench.family if bench else run.benchmark, benchmark_version=run.benchmark_version,
        endpoint_url=run.endpoint_url, params=_settings(run),
        context_size=(run.model_identity or {}).get("context_size"),
        finished_at=run.finished_at, tasks=len({s.task_id for s in scored}),
        concurrency=run.concurrency, wall_s=wall,
        fresh=len(fresh), generated_tokens=sum(s.completion_tokens or 0 for s in with_tokens),
        decode_s=sum(max(0.0, (s.latency_s or 0) - (s.ttft_s or 0)) for s in with_tokens),
        ttft_sum=sum(ttfts), ttft_n=len(ttfts),
    )
    if bench is None:
        return summary, []
    by_task: dict[str, list[Sample]] = defaultdict(list)
    for s in scored:
        by_task[s.task_id].append(s)
    order = [t for t in run.task_ids if t in by_task]
    rows: list[DimensionEvidence] = []
    for metric in bench.dimension_metrics():
        per_part: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for tid in order:
            part = bench.part(tid)
            if not metric.covers(part):
                continue
            vals = [v for v in (metric.outcome(s) for s in by_task[tid]) if v is not None]
            if vals:
                per_part[part].append((tid, sum(vals) / len(vals)))
        for part, pairs in per_part.items():
            rows.append(_row(run.id, metric.dimension, metric.metric, part, pairs))
    return summary, rows


def _row(run_id: str, dimension: str, metric: str, part: str,
         pairs: list[tuple[str, float]]) -> DimensionEvidence:
    ids = [t for t, _ in pairs]
    values = [v for _, v in pairs]
    binary = all(v in (0.0, 1.0) for v in values)
    joined = "\n".join(ids)
    return DimensionEvidence(
        run_id=run_id, dimension=dimension, metric=metric, part=part, n=len(values),
        total=float(sum(values)),
        outcomes="".join("1" if v else "0" for v in values) if binary else "",
        values=None if binary else values,
        tasks_hash=hashlib.sha1(joined.encode()).hexdigest()[:16], task_ids=joined)


def _settings(run: Run) -> dict[str, object]:
    """The settings that make two runs comparable or not (sampling, n, the benchmark's own
    options as decided, e.g. how the model was asked)."""
    p = dict(run.params or {})
    keep = ("temperature", "top_p", "max_tokens", "seed")
    out: dict[str, object] = {k: p[k] for k in keep if k in p}
    if p.get("options"):
        out["options"] = p["options"]
    out["n_samples"] = run.n_samples
    out["sandbox"] = run.sandbox_used
    return out


def record(db: Engine, run: Run, samples: Sequence[Sample]) -> None:
    """Summarise and store one run's evidence (called when a run ends)."""
    try:
        bench: BenchmarkBase | None = get_benchmark(run.benchmark, None)
    except UnknownBenchmark:
        bench = None
    summary, rows = summarise(run, samples, bench)
    ev.save_evidence(db, summary, rows)


def ensure_evidence(db: Engine) -> int:
    """Summarise the succeeded runs that have no (current) evidence; returns how many."""
    todo = ev.runs_needing_evidence(db, EVIDENCE_VERSION)
    for run_id in todo:
        run = q.get_run(db, run_id)
        if run is not None:
            record(db, run, q.all_samples(db, run_id))
    if todo:
        log.info("summarised %d run(s) for the comparison", len(todo))
    return len(todo)
