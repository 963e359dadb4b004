"""Stores seeded with known per-sample results, for checking the comparison's numbers.

Rows are written the way the run engine writes them (a succeeded Run, one scored Sample per
task and sample index), so the evidence is computed from them by the real code path."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from benchdock.store.tables import Run, Sample

_clock = itertools.count()
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def seed_run(
    db: Engine, model: str, benchmark: str, outcomes: Mapping[str, bool | Sequence[bool]], *,
    extras: Mapping[str, dict[str, Any]] | None = None, tokens_per_s: float | None = 50.0,
    ttft_s: float | None = 0.2, tokens: int = 100, wall_s_per_task: float = 2.0,
    params: dict[str, Any] | None = None, context_size: int | None = 8192,
    version: str = "v-test", status: str = "succeeded", finished_at: datetime | None = None,
) -> str:
    """One run of `model` on `benchmark`: per task, a pass/fail (or a list, one per sample).
    Timing is set so that the run decodes at `tokens_per_s` with `ttft_s` to first token."""
    run_id = uuid.uuid4().hex[:12]
    tick = next(_clock)
    finished = finished_at or T0 + timedelta(minutes=tick)
    n_samples = max(len(v) if isinstance(v, Sequence) else 1 for v in outcomes.values())
    wall = wall_s_per_task * len(outcomes)
    run = Run(id=run_id, benchmark=benchmark, benchmark_version=version, dataset_hash="seed",
              model=model, endpoint_url="http://127.0.0.1:9/v1",
              model_identity={"id": model, "context_size": context_size},
              params={"temperature": 0.0 if n_samples == 1 else 0.8, "top_p": 0.95,
                      "max_tokens": 768, "seed": None, **(params or {})},
              task_ids=list(outcomes), n_samples=n_samples, status=status,
              total=len(outcomes) * n_samples, created_at=finished - timedelta(seconds=wall),
              started_at=finished - timedelta(seconds=wall), finished_at=finished,
              sandbox_used="local")
    with Session(db) as s:
        s.add(run)
        s.commit()
        seq = 0
        for tid, got in outcomes.items():
            for k, ok in enumerate(got if isinstance(got, Sequence) else [got]):
                latency = None if tokens_per_s is None else (ttft_s or 0) + tokens / tokens_per_s
                s.add(Sample(run_id=run_id, task_id=tid, sample_index=k, seq=seq,
                             verdict="pass" if ok else "fail", latency_s=latency,
                             ttft_s=ttft_s, completion_tokens=tokens if tokens_per_s else None,
                             extra=(extras or {}).get(tid), exec_s=0.1))
                seq += 1
        s.commit()
    return run_id


def passes(prefix: str, n: int, passed: int | Sequence[int]) -> dict[str, bool]:
    """Tasks `<prefix><i>` for i < n; `passed` is how many pass (the first ones) or which."""
    which = set(range(passed)) if isinstance(passed, int) else set(passed)
    return {f"{prefix}{i}": i in which for i in range(n)}


def aider_outcomes(language: str, first: Sequence[bool], second: Sequence[bool | None]
                   ) -> tuple[dict[str, bool], dict[str, dict[str, Any]]]:
    """Aider polyglot samples: attempt-1 and attempt-2 outcomes (None: no second attempt)."""
    out, extras = {}, {}
    for i, (a, b) in enumerate(zip(first, second, strict=True)):
        tid = f"{language}/ex{i}"
        tests = [a] if (a or b is None) else [a, b]
        out[tid] = any(tests)
        extras[tid] = {"language": language, "status": "done", "tests_outcomes": tests}
    return out, extras
