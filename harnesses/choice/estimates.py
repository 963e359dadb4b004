"""How long a run would take on this endpoint, from the runs already made there.

In order of trust: this model's own runs of the benchmark; its runs of another benchmark of
the same family, scaled by requests per task; other models' runs of the benchmark, scaled by
decoding speed (unscaled when this model's speed is unknown); this model's speed on
anything, times the benchmark's declared cost per task; and, with nothing measured at all,
an assumed 20 tokens/s. The basis is always said.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from benchdock.harnesses.base import BenchmarkBase
from benchdock.harnesses.choice.catalogue import TARGET_TASKS, RunOption, catalogue, run_options
from benchdock.harnesses.choice.views import Speed
from benchdock.store.evidence import SummaryRow

ASSUMED_TOKENS_PER_S = 20.0
ASSUMED_TTFT_S = 1.0


@dataclass(frozen=True)
class Estimate:
    minutes: float
    basis: str


def speed_of(runs: Sequence[SummaryRow]) -> Speed:
    tokens = sum(r.generated_tokens for r in runs)
    decode = sum(r.decode_s for r in runs)
    ttft_n = sum(r.ttft_n for r in runs)
    timed = [r for r in runs if r.fresh and r.wall_s and r.tasks]
    tasks = sum(r.tasks for r in timed)
    return Speed(
        tokens_per_s=tokens / decode if decode > 0 and tokens else None,
        ttft_s=sum(r.ttft_sum for r in runs) / ttft_n if ttft_n else None,
        wall_s_per_task=sum(r.wall_s or 0 for r in timed) / tasks if tasks else None,
        runs=len(runs))


class Estimator:
    def __init__(self, runs: Sequence[SummaryRow]) -> None:
        self.by_model: dict[str, list[SummaryRow]] = defaultdict(list)
        for r in runs:
            self.by_model[r.model].append(r)
        self.speed = {m: speed_of(rs) for m, rs in self.by_model.items()}

    @staticmethod
    def _per_task(runs: Sequence[SummaryRow]) -> float | None:
        timed = [r for r in runs if r.fresh and r.wall_s and r.tasks]
        tasks = sum(r.tasks for r in timed)
        return sum(r.wall_s or 0 for r in timed) / tasks if tasks else None

    def per_task_s(self, model: str, bench: BenchmarkBase) -> tuple[float, str]:
        own = self.by_model.get(model, [])
        t = self._per_task([r for r in own if r.benchmark == bench.id])
        if t is not None:
            return t, f"measured: {model} on {bench.id} here"
        kin = [r for r in own if r.family == bench.family]
        t = self._per_task(kin)
        if t is not None:
            ref = catalogue().get(kin[0].benchmark)
            ratio = bench.requests_per_task / ref.requests_per_task if ref else 1.0
            return t * ratio, (f"measured: {model} on {kin[0].benchmark} here, scaled by "
                               "requests per task")
        mine = self.speed.get(model)
        unscaled: tuple[float, str] | None = None
        for other, runs in self.by_model.items():
            if other == model:
                continue
            t = self._per_task([r for r in runs if r.benchmark == bench.id])
            if t is None:
                continue
            theirs = self.speed[other].tokens_per_s
            if mine and mine.tokens_per_s and theirs:
                return (t * theirs / mine.tokens_per_s,
                        f"measured: {other} on {bench.id} here, scaled by decoding speed")
            unscaled = unscaled or (t, f"measured: {other} on {bench.id} here ({model}'s own "
                                       "speed is not known yet)")
        if unscaled and not (mine and mine.tokens_per_s):
            return unscaled
        if mine and mine.tokens_per_s:
            tps, ttft = mine.tokens_per_s, mine.ttft_s or ASSUMED_TTFT_S
            basis = f"{model}'s measured {tps:.1f} tokens/s here x {bench.id}'s typical cost"
        else:
            tps, ttft = ASSUMED_TOKENS_PER_S, ASSUMED_TTFT_S
            basis = (f"nothing measured for {model} here: assumed {tps:.0f} tokens/s and "
                     f"{bench.id}'s typical cost")
        per_request = ttft + bench.tokens_per_request / tps
        return bench.requests_per_task * per_request + bench.exec_s_per_task, basis

    def estimate(self, model: str, bench: BenchmarkBase, tasks: int) -> Estimate:
        per, basis = self.per_task_s(model, bench)
        return Estimate(per * tasks / 60.0, basis)


def suggestions(estimator: Estimator, model: str,
                dimension: str) -> list[tuple[RunOption, Estimate]]:
    """The runs that would measure `dimension` for `model`, best first: most tasks that count
    (up to the target), broadest, then quickest here."""
    opts = [(o, estimator.estimate(model, o.bench, o.tasks)) for o in run_options(dimension)]
    return sorted(opts, key=lambda oe: (-min(oe[0].relevant_tasks, TARGET_TASKS),
                                        -oe[0].relevant_parts, oe[1].minutes))
