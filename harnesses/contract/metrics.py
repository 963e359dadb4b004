"""Scores and timing from a run's samples.

pass@k uses EvalPlus's own unbiased estimator (the one from the HumanEval paper). The 95%
interval is Wilson's over tasks when each task has one sample, and a normal interval over
per-task means otherwise; `n` is always the number of tasks behind the figure.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from benchdock.store.tables import Sample

Z95 = 1.959963984540054


def wilson(successes: float, n: int) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def mean_interval(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    if n < 2:
        return (0.0, 1.0) if n == 0 else (values[0], values[0])
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    half = Z95 * math.sqrt(var / n)
    return (max(0.0, mean - half), min(1.0, mean + half))


def pass_at_k(per_task: dict[str, list[bool]], ks: Iterable[int]) -> dict[str, dict[str, Any]]:
    from evalplus.eval import estimate_pass_at_k

    out: dict[str, dict[str, Any]] = {}
    if not per_task:
        return out
    totals = [len(v) for v in per_task.values()]
    correct = [sum(v) for v in per_task.values()]
    for k in ks:
        if any(t < k for t in totals):
            continue
        scores = [float(x) for x in estimate_pass_at_k(totals, correct, k)]
        value = sum(scores) / len(scores)
        if k == 1 and all(t == 1 for t in totals):
            lo, hi = wilson(sum(correct), len(totals))
        else:
            lo, hi = mean_interval(scores)
        out[f"pass@{k}"] = {"value": value, "ci95": [lo, hi], "n": len(scores)}
    return out


def compute_metrics(samples: Sequence[Sample], n_samples: int) -> dict[str, Any]:
    scored = [s for s in samples if s.verdict is not None]
    ks = [k for k in (1, 5, 10) if k <= n_samples]
    headline: dict[str, list[bool]] = defaultdict(list)
    base: dict[str, list[bool]] = defaultdict(list)
    for s in scored:
        headline[s.task_id].append(s.verdict == "pass")
        if s.base_verdict is not None:
            base[s.task_id].append(s.base_verdict == "pass")
    metrics: dict[str, Any] = {"scores": pass_at_k(headline, ks)}
    if base:
        metrics["scores_base"] = pass_at_k(base, ks)
    verdicts: dict[str, int] = defaultdict(int)
    for s in scored:
        verdicts[str(s.verdict)] += 1
    metrics["verdicts"] = dict(verdicts)
    metrics["samples"] = len(scored)
    metrics["tasks"] = len(headline)
    metrics["truncated"] = sum(1 for s in scored if s.truncated)
    metrics["timing"] = timing(scored)
    return metrics


def timing(samples: Sequence[Sample]) -> dict[str, Any]:
    fresh = [s for s in samples if not s.cached and s.latency_s is not None]
    lat = [s.latency_s for s in fresh if s.latency_s is not None]
    ttft = [s.ttft_s for s in fresh if s.ttft_s is not None]
    decode_s = sum(
        (s.latency_s or 0) - (s.ttft_s or 0) for s in fresh if s.completion_tokens
    )
    tokens = sum(s.completion_tokens or 0 for s in fresh)
    execs = [s.exec_s for s in samples if s.exec_s is not None]
    sources: dict[str, int] = defaultdict(int)  # where each request's ttft came from
    for s in fresh:
        if s.extra is not None and "ttft_source" in s.extra:
            sources[str(s.extra["ttft_source"] or "none")] += 1
    failed, retried, lost = reliability(samples)
    return {
        "requests": len(fresh),
        "cached": sum(1 for s in samples if s.cached),
        "failed_requests": failed,
        "retried_requests": retried,
        "retry_lost_s": round(lost, 3),
        "ttft_measured": len(ttft),
        "mean_latency_s": sum(lat) / len(lat) if lat else None,
        "mean_ttft_s": sum(ttft) / len(ttft) if ttft else None,
        "ttft_sources": dict(sources),
        "generated_tokens": tokens,
        "tokens_per_s": tokens / decode_s if decode_s > 0 else None,
        "mean_exec_s": sum(execs) / len(execs) if execs else None,
    }


def reliability(samples: Sequence[Sample]) -> tuple[int, int, float]:
    """(attempts that failed, requests that needed a retry, seconds those failures and the
    waits after them took): the endpoint's reliability, read from each sample's evidence
    (`retries` of a chat sample; each exchange of a sample a reference harness asked)."""
    failed = retried = 0
    lost = 0.0
    for s in samples:
        extra = s.extra or {}
        asks = [extra] if "retries" in extra else []
        asks += [e for e in extra.get("exchanges") or [] if isinstance(e, dict)]
        for a in asks:
            n = int(a.get("retries") or 0) + (1 if int(a.get("status") or 200) != 200 else 0)
            failed += n
            retried += 1 if a.get("retries") else 0
            lost += float(a.get("retry_lost_s") or 0.0)
    return failed, retried, lost
