"""An anytime-valid confidence sequence for the mean paired difference of two models on a
benchmark, and the verdicts drawn from it.

Why not a test repeated after every batch: a fixed-n test (McNemar, a t-test) looked at
again and again and stopped at the first p < 0.05 errs far more often than 5 %. A
*confidence sequence* (CS) is a sequence of intervals that holds the true value at every
time at once with probability >= 1 - alpha, so stopping whenever it excludes something
keeps the error at alpha (Ville's inequality).

Method: the betting CS of Waudby-Smith & Ramdas, "Estimating means of bounded random
variables by betting", JRSS B 86(1), 2024 (arXiv:2010.09686, 2020; hedged capital process,
predictable plug-in bets, section 4 and eq. 26-27), in its without-replacement form from
Waudby-Smith & Ramdas, "Confidence sequences for sampling without replacement", NeurIPS
2020 (arXiv:2006.04347, section 3). The tasks of a benchmark are a finite population
visited in a seeded uniformly random order, so what is estimated is exactly the mean
difference over the whole benchmark: the verdict the full runs would give, and at the last
task the interval is that value.

Paired per-task differences d in [-1, 1] (A's outcome minus B's; a task without an outcome
for one of them counts as 0) are mapped to x = (d + 1) / 2 in [0, 1]. For each candidate mean
m on a grid, two gamblers bet for and against "the mean is m": their capital is
prod(1 +- lambda_i (x_i - m_i)), where m_i = (N m - sum of earlier x) / (N - i + 1) is the
mean of what is left if m is true. m is excluded once the hedged capital (half each) reaches
1/alpha. `confseq` (PyPI) implements the same but does not build here (C++ extension).
The arrays carry a leading axis of independent sequences so the simulation can replay
thousands at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

TRUNCATION = 0.5  # bets at most half the capital the outcome could lose (WSR 2024, c = 1/2)
GRID_POINTS = 1000  # at least this many candidate means
HORIZON_MAX = 100.0  # bets are tuned for an interval narrow at N/4 tasks, at most this many


class PairedCS:
    """Confidence sequences for `replays` independent orderings of one population of
    `population` paired differences. `update` takes the next differences (shape
    (replays, k)); `interval` gives the current anytime-valid interval for the mean
    difference, per replay."""

    def __init__(self, population: int, alpha: float, replays: int = 1) -> None:
        if population < 1:
            raise ValueError("population must be >= 1")
        if not 0 < alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        self.n_pop = population
        self.alpha = alpha
        # all multiples of 1/(2N): binary differences give a true mean on the grid exactly
        per = max(1, math.ceil(GRID_POINTS / (2 * population)))
        self.grid = np.linspace(0.0, 1.0, 2 * population * per + 1)
        self.step = float(self.grid[1] - self.grid[0])
        shape = (replays, self.grid.size)
        self.log_up = np.zeros(shape)
        self.log_down = np.zeros(shape)
        self.excluded = np.zeros(shape, dtype=bool)
        self.t = 0
        self.sum_x = np.zeros(replays)
        self.sum_sq = np.zeros(replays)  # sum of (x_i - running mean before i)^2
        self.threshold = math.log(1.0 / alpha)
        self.horizon = max(1.0, min(population / 4, HORIZON_MAX))

    def update(self, diffs: npt.ArrayLike) -> None:
        d = np.asarray(diffs, dtype=np.float64)
        if d.ndim == 1:
            d = d[None, :]
        for j in range(d.shape[1]):
            self._step(np.clip((d[:, j] + 1.0) / 2.0, 0.0, 1.0))

    def _step(self, x: Array) -> None:
        if self.t >= self.n_pop:
            raise ValueError(f"more than {self.n_pop} observations of a population of "
                             f"{self.n_pop}")
        t = self.t + 1
        # predictable plug-in bet from the observations before this one: WSR 2024's
        # variance-adaptive bet tuned for width at `horizon` tasks (their eq. 26 uses
        # t log(t + 1), which spreads the width over all times; any predictable bet is valid,
        # and on 164-task populations this one decides ~15 % sooner)
        mean_prev = (0.5 + self.sum_x) / t
        var_prev = (0.25 + self.sum_sq) / t
        lam = np.sqrt(2 * math.log(2 / self.alpha) / (var_prev * self.horizon))
        # the mean of what is left, if the population's mean is m (WoR, WSR 2020)
        left = self.n_pop - t + 1
        m_t = (self.n_pop * self.grid[None, :] - self.sum_x[:, None]) / left
        impossible = (m_t < -1e-12) | (m_t > 1 + 1e-12)
        m_c = np.clip(m_t, 1e-9, 1 - 1e-9)
        lam_up = np.minimum(lam[:, None], TRUNCATION / m_c)
        lam_down = np.minimum(lam[:, None], TRUNCATION / (1 - m_c))
        gap = x[:, None] - m_c
        self.log_up += np.log1p(lam_up * gap)
        self.log_down += np.log1p(-lam_down * gap)
        hedged = np.logaddexp(self.log_up, self.log_down) - math.log(2)
        self.excluded |= impossible | (hedged >= self.threshold)
        self.sum_sq += (x - mean_prev) ** 2
        self.sum_x += x
        self.t = t

    def interval(self) -> tuple[Array, Array]:
        """Lower and upper bounds of the mean difference (in [-1, 1]) per replay: the
        outermost candidates not yet excluded (an empty set, which has probability at most
        alpha, gives the last observed mean as a point)."""
        keep = ~self.excluded
        if self.t:  # what is left must have a mean in [0, 1]; at the end it is known
            if self.t >= self.n_pop:
                mean = self.sum_x / self.n_pop
                lo, hi = 2 * mean - 1, 2 * mean - 1
                return lo, hi
            rest = (self.n_pop * self.grid[None, :] - self.sum_x[:, None]) / (self.n_pop - self.t)
            keep = keep & (rest >= -1e-12) & (rest <= 1 + 1e-12)
        any_kept = keep.any(axis=1)
        first = np.argmax(keep, axis=1)
        last = self.grid.size - 1 - np.argmax(keep[:, ::-1], axis=1)
        mean = self.sum_x / max(self.t, 1)
        lo = np.where(any_kept, self.grid[first], mean)
        hi = np.where(any_kept, self.grid[last], mean)
        return 2 * lo - 1, 2 * hi - 1


@dataclass(frozen=True)
class PairVerdict:
    """What the interval says about A - B at margin `margin`."""

    lower: float
    upper: float
    verdict: str  # "a", "b" (better, separated), "equivalent", "open"


def verdict(lower: float, upper: float, margin: float) -> str:
    """'a' when the interval is above 0, 'b' when below, 'equivalent' when it lies inside
    (-margin, margin), else 'open'."""
    if lower > 0:
        return "a"
    if upper < 0:
        return "b"
    if margin > 0 and -margin < lower and upper < margin:
        return "equivalent"
    return "open"
