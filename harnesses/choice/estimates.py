"""How long a run would take on this endpoint, from the runs already made there.

In order of trust: this model's own runs of the benchmark; its runs of another benchmark of
the same family, scaled by requests per task; other models' runs of the benchmark, scaled by
decoding speed (its runs' speed, else its probe's); this model's speed on anything, times
the benchmark's declared cost per task; its probed speed (a few short requests made for the
plan: `speeds.py`), times that cost; and, only when the model could not be probed either,
an assumed 20 tokens/s. The basis is always said.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from benchdock.harnesses.choice.catalogue import (
    TARGET_TASKS,
    RunOption,
    catalogue,
    run_options,
    saturation,
    unsaturated,
)
from benchdock.harnesses.choice.views import Speed
from benchdock.harnesses.client.speed import Probe
from benchdock.harnesses.contract.benchmark import BenchmarkBase
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
    def __init__(self, runs: Sequence[SummaryRow],
                 probes: Mapping[str, Probe] | None = None) -> None:
        self.by_model: dict[str, list[SummaryRow]] = defaultdict(list)
        for r in runs:
            self.by_model[r.model].append(r)
        self.speed = {m: speed_of(rs) for m, rs in self.by_model.items()}
        self.probes = dict(probes or {})

    def _tps(self, model: str) -> float | None:
        """Its decoding speed: from its runs, else from its probe."""
        mine = self.speed.get(model)
        if mine and mine.tokens_per_s:
            return mine.tokens_per_s
        p = self.probes.get(model)
        return p.tokens_per_s if p else None

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
        my_tps = self._tps(model)
        unscaled: tuple[float, str] | None = None
        for other, runs in self.by_model.items():
            if other == model:
                continue
            t = self._per_task([r for r in runs if r.benchmark == bench.id])
            if t is None:
                continue
            theirs = self.speed[other].tokens_per_s
            if my_tps and theirs:
                how = "" if mine and mine.tokens_per_s else f" ({model}'s probed speed)"
                return (t * theirs / my_tps,
                        f"measured: {other} on {bench.id} here, scaled by decoding speed{how}")
            unscaled = unscaled or (t, f"measured: {other} on {bench.id} here ({model}'s own "
                                       "speed is not known yet)")
        if unscaled and not my_tps:
            return unscaled
        probe = self.probes.get(model)
        if mine and mine.tokens_per_s:
            tps, ttft = mine.tokens_per_s, mine.ttft_s or ASSUMED_TTFT_S
            basis = f"{model}'s measured {tps:.1f} tokens/s here x {bench.id}'s typical cost"
        elif probe is not None and probe.tokens_per_s:
            tps, ttft = probe.tokens_per_s, probe.ttft_s or ASSUMED_TTFT_S
            basis = (f"{model}'s speed probed here ({probe.requests} short requests: "
                     f"{tps:.1f} tokens/s, first token {ttft:.2f} s) x {bench.id}'s typical "
                     "cost")
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
    """The runs that would measure `dimension` for `model`, best first: an unsaturated one
    ready here (least saturated first: declared frontier scores), then most tasks that
    count (up to the target), broadest, then quickest here."""
    opts = [(o, estimator.estimate(model, o.bench, o.tasks)) for o in run_options(dimension)]
    ready_saturation = {o.bench.id: saturation(o.bench) or 0.0 if unsaturated(o.bench)
                        and o.bench.readiness() is None else 1.0 for o, _ in opts}
    return sorted(opts, key=lambda oe: (ready_saturation[oe[0].bench.id],
                                        -min(oe[0].relevant_tasks, TARGET_TASKS),
                                        -oe[0].relevant_parts, oe[1].minutes))
