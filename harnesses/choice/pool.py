"""One pool of evidence: the runs of a model on the same part of a benchmark family, with the
same settings, count together.

Why: `decide` runs a benchmark batch by batch, each batch a run of its own; an agent's first
probe is another. Taken one run at a time, the comparison showed the largest single run
(n = 10 after `decide` had run 88 tasks per model). Pooled, every task any of those runs
scored counts, once: where two runs scored the same task (a probe, then a decision) the
newest verdict stands. Runs with other settings (temperature, top_p, max_tokens, samples
per task, the benchmark's own options, its version) are not mixed in: per model and part,
the settings group with the most tasks counts, the newest on ties.

A pooled group becomes one synthetic evidence row per (dimension, metric), with a negative
id, its task ids in `task_ids` (the newest run's tasks first) and its runs in `members`, so
the comparison's paired tests and provenance read it like any other row.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from benchdock.store.evidence import EvidenceRow, SummaryRow

RULE = ("Runs of a model on the same part of a benchmark with the same settings (temperature, "
        "top_p, max_tokens, samples per task, the benchmark's options and version) are "
        "pooled: each task counts once, with its newest verdict where runs differ; where a "
        "model has runs under different settings, the settings with the most tasks count "
        "(the newest on ties).")
SETTINGS = ("temperature", "top_p", "max_tokens", "n_samples", "options")


def settings_key(s: SummaryRow) -> str:
    return json.dumps([s.benchmark_version, *(s.params.get(k) for k in SETTINGS)],
                      sort_keys=True, default=str)


@dataclass
class Pooled:
    chosen: dict[str, dict[str, list[EvidenceRow]]] = field(default_factory=dict)
    members: dict[int, list[str]] = field(default_factory=dict)  # synthetic row -> runs
    task_ids: dict[int, list[str]] = field(default_factory=dict)  # synthetic row -> tasks


def values_of(row: EvidenceRow) -> list[float]:
    if row.values is not None:
        return list(row.values)
    return [1.0 if c == "1" else 0.0 for c in row.outcomes]


def pool(sums: Sequence[SummaryRow], rows: Sequence[EvidenceRow],
         load_ids: Callable[[list[int]], dict[int, list[str]]]) -> Pooled:
    """The rows that count, per model and dimension. `sums` newest first; `load_ids` gives
    the task ids of evidence rows (asked once, only for groups of more than one run)."""
    by_run: dict[str, list[EvidenceRow]] = defaultdict(list)
    for r in rows:
        by_run[r.run_id].append(r)
    # (model, family, part) -> settings -> its runs, newest first
    groups: dict[tuple[str, str, str], dict[str, list[str]]] = {}
    for s in sums:
        for part in dict.fromkeys(r.part for r in by_run[s.run_id]):
            runs = groups.setdefault((s.model, s.family, part), {}).setdefault(
                settings_key(s), [])
            runs.append(s.run_id)
    wanted = [r.id for key, by_settings in groups.items() for runs in by_settings.values()
              if len(runs) > 1 for rid in runs for r in by_run[rid] if r.part == key[2]]
    ids = load_ids(wanted) if wanted else {}
    out = Pooled()
    next_id = -1
    model_of = {s.run_id: s.model for s in sums}
    for (_model, _family, part), by_settings in groups.items():
        best: tuple[int, list[EvidenceRow]] | None = None
        for runs in by_settings.values():  # newest group first: later ones win only on size
            if len(runs) == 1:
                picked = [r for r in by_run[runs[0]] if r.part == part]
            else:
                picked = []
                for parts in _by_metric(runs, by_run, part).values():
                    row, tasks = _merge(parts, ids, next_id)
                    out.members[next_id], out.task_ids[next_id] = list(
                        dict.fromkeys(r.run_id for r in parts)), tasks
                    next_id -= 1
                    picked.append(row)
            n = max((r.n for r in picked), default=0)
            if best is None or n > best[0]:
                best = (n, picked)
        for r in best[1] if best else []:
            out.chosen.setdefault(model_of[r.run_id], {}).setdefault(r.dimension, []).append(r)
    return out


def _by_metric(runs: list[str], by_run: dict[str, list[EvidenceRow]],
               part: str) -> dict[tuple[str, str], list[EvidenceRow]]:
    """The group's rows on `part` per (dimension, metric), newest run first."""
    out: dict[tuple[str, str], list[EvidenceRow]] = {}
    for rid in runs:
        for r in by_run[rid]:
            if r.part == part:
                out.setdefault((r.dimension, r.metric), []).append(r)
    return out


def _merge(rows: list[EvidenceRow], ids: dict[int, list[str]],
           new_id: int) -> tuple[EvidenceRow, list[str]]:
    """One row over the union of the rows' tasks, each task's newest outcome."""
    seen: dict[str, float] = {}
    for r in rows:  # newest first: a task keeps the first (newest) outcome met
        for task, value in zip(ids.get(r.id, []), values_of(r), strict=False):
            seen.setdefault(task, value)
    tasks = list(seen)
    values = [seen[t] for t in tasks]
    binary = all(v in (0.0, 1.0) for v in values)
    joined = "\n".join(tasks)
    return replace(
        rows[0], id=new_id, n=len(values), total=float(sum(values)),
        outcomes="".join("1" if v else "0" for v in values) if binary else "",
        values=None if binary else values,
        tasks_hash=hashlib.sha1(joined.encode()).hexdigest()[:16]), tasks
