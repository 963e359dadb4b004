"""The tests behind "is this difference real".

Paired (two models on the same tasks): the exact two-sided sign test over the tasks where
they differ — for pass/fail outcomes that is the exact McNemar test. Unpaired (different
tasks): a two-sample z-test on the two means (for proportions, the pooled two-proportion
test). Both are computed here exactly from their definitions; they are a few lines each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from benchdock.harnesses.contract.metrics import Z95, mean_interval, wilson

ALPHA = 0.05


def sign_test_p(wins: int, losses: int) -> float:
    """Two-sided exact binomial p-value of `wins` against `losses` under p = 1/2."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    term = tail = 1  # C(n, 0); each next binomial coefficient from the last, exactly
    for i in range(k):
        term = term * (n - i) // (i + 1)
        tail += term
    return min(1.0, float(2 * tail / (1 << n)))


def normal_two_sided_p(z: float) -> float:
    return float(math.erfc(abs(z) / math.sqrt(2)))


@dataclass(frozen=True)
class Pooled:
    """A dimension's pooled outcomes for one model: sum and count, and the per-task values
    when they are not all 0/1."""

    n: int
    total: float
    values: list[float] | None = None  # only when some outcome is fractional

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    def interval(self) -> tuple[float, float]:
        """Wilson for pass/fail outcomes, the normal interval of the mean otherwise."""
        if self.values is None:
            return wilson(self.total, self.n)
        return mean_interval(self.values)


@dataclass(frozen=True)
class PairedResult:
    n_shared: int
    wins: int  # tasks where the first model did better
    losses: int
    mean_difference: float
    p_value: float


def unpaired_p(a: Pooled, b: Pooled) -> float:
    """Two-sided p of the difference in means of two independent samples."""
    if a.n == 0 or b.n == 0:
        return 1.0
    if a.values is None and b.values is None:
        p = (a.total + b.total) / (a.n + b.n)
        se = math.sqrt(p * (1 - p) * (1 / a.n + 1 / b.n))
    else:
        se = math.sqrt(_var(a) / a.n + _var(b) / b.n)
    if se == 0:
        return 1.0 if a.mean == b.mean else 0.0
    return normal_two_sided_p((a.mean - b.mean) / se)


def _var(x: Pooled) -> float:
    if x.values is None:
        p = x.mean
        return p * (1 - p)
    m = x.mean
    return sum((v - m) ** 2 for v in x.values) / max(1, len(x.values) - 1)


def tasks_to_separate(p1: float, p2: float, power_z: float = 0.8416) -> int | None:
    """Tasks per model that an unpaired test needs to tell p1 from p2 at 5% with 80% power;
    None when they are equal (no finite number will)."""
    delta = abs(p1 - p2)
    if delta < 1e-9:
        return None
    pbar = (p1 + p2) / 2
    return math.ceil(2 * (Z95 + power_z) ** 2 * max(pbar * (1 - pbar), 0.01) / delta**2)
