"""The adaptive comparison's statistics: the confidence sequence holds the true difference
at all times, collapses to it at the end, and the stopping rule's error rate stays at or
under the nominal level on seeded synthetic populations (fewer replays than
tests/scripts/adaptive_simulation.py, which prints the full table). Also the verdict logic for more
than two models and the swap-state parsing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchdock.harnesses.choice.adaptive import _settle
from benchdock.harnesses.choice.adaptive_cs import PairedCS, verdict
from benchdock.harnesses.choice.adaptive_sim import population, replay, wrong
from benchdock.harnesses.choice.adaptive_views import PairInterval
from benchdock.harnesses.client.endpoints import swap_state

ALPHA = 0.05


def test_interval_covers_the_truth_at_every_time_and_ends_on_it() -> None:
    pop = population(60, 0.6, 0.4, 0.5, seed=3)
    truth = float(pop.mean())
    replays = 400
    rng = np.random.default_rng(0)
    orders = np.stack([rng.permutation(pop) for _ in range(replays)])
    cs = PairedCS(60, ALPHA, replays=replays)
    misses = np.zeros(replays, dtype=bool)
    widths = []
    for j in range(60):
        cs.update(orders[:, j:j + 1])
        lo, hi = cs.interval()
        assert np.all(lo <= hi)
        misses |= (lo > truth + 1e-9) | (hi < truth - 1e-9)
        widths.append(float(np.mean(hi - lo)))
    # at most alpha of the orders ever miss (2000 orders: 0.034); 3 sd of noise allowed
    assert misses.mean() <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / replays)
    assert widths[-1] == pytest.approx(0.0, abs=1e-9)  # the whole population: exact
    assert widths[10] < 2.0 and widths[40] < widths[10]
    lo, hi = cs.interval()
    assert float(lo[0]) == pytest.approx(truth)


def test_fractional_outcomes_and_bounds() -> None:
    cs = PairedCS(10, ALPHA)
    cs.update([0.5, -0.25, 1.0])
    lo, hi = cs.interval()
    assert -1 <= lo[0] <= hi[0] <= 1
    with pytest.raises(ValueError):
        cs.update([0.0] * 8)  # more than the population


@pytest.mark.parametrize("mid_batch", [False, True])
@pytest.mark.parametrize(("p_a", "p_b", "margin"), [
    (0.5, 0.5, 0.05), (0.5, 0.5, 0.2), (0.55, 0.5, 0.1), (0.8, 0.5, 0.05)])
def test_error_rate_within_nominal_over_replays(p_a: float, p_b: float, margin: float,
                                                mid_batch: bool) -> None:
    replays = 300
    r = replay(population(100, p_a, p_b, 0.5, seed=7), alpha=ALPHA, margin=margin, batch=5,
               replays=replays, seed=11, mid_batch=mid_batch)
    # the rule's error is <= alpha; allow the binomial noise of 300 replays (3 sd)
    assert r.error_rate <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / replays), r
    assert sum(r.verdicts.values()) == replays
    if p_a - p_b >= 0.3:  # a large difference is found long before the end
        assert r.verdicts["a"] == replays and r.mean_tasks < 0.5 * r.fixed_tasks
    if margin >= 0.2 and p_a == p_b:
        assert r.verdicts["equivalent"] >= 0.9 * replays


def test_checking_after_every_task_runs_fewer_tasks_at_the_same_error() -> None:
    # the same orders checked after every task or only at batch ends: a decision at task k
    # is also there at k's batch end (the excluded set only grows), so every-task checking
    # never costs more, and it costs less by up to a batch
    pop = population(164, 0.65, 0.4, 0.5, seed=5)
    end = replay(pop, alpha=ALPHA, margin=0.05, batch=16, replays=300, seed=3)
    mid = replay(pop, alpha=ALPHA, margin=0.05, batch=16, replays=300, seed=3, mid_batch=True)
    assert end.mean_cost == end.mean_tasks
    assert mid.mean_tasks <= mid.mean_cost < end.mean_tasks - 2, (mid, end)
    assert mid.verdicts["a"] == end.verdicts["a"] == 300


def test_wrong_decisions() -> None:
    assert wrong("a", 0.0, 0.05) and wrong("b", 0.1, 0.05) and not wrong("a", 0.1, 0.05)
    assert wrong("equivalent", 0.05, 0.05) and not wrong("equivalent", 0.04, 0.05)
    assert not wrong("open", 0.3, 0.05)


def test_verdicts_and_three_models() -> None:
    assert verdict(0.01, 0.3, 0.05) == "a" and verdict(-0.3, -0.01, 0.05) == "b"
    assert verdict(-0.04, 0.04, 0.05) == "equivalent" and verdict(-0.1, 0.04, 0.05) == "open"

    def p(a: str, b: str, lo: float, hi: float) -> PairInterval:
        return PairInterval(a=a, b=b, lower=lo, upper=hi, tasks=10, verdict="")

    models = ["x", "y", "z"]
    # x above y and z: x wins
    assert _settle(models, [p("x", "y", 0.1, 0.3), p("x", "z", 0.2, 0.4),
                            p("y", "z", -0.2, 0.2)], 0.05)[:2] == ("separated", "x")
    # x and y within the margin, both above z: equivalent top two
    assert _settle(models, [p("x", "y", -0.02, 0.03), p("x", "z", 0.2, 0.4),
                            p("y", "z", 0.1, 0.3)], 0.05) == ("equivalent", None, ["x", "y"])
    # x and y not yet apart, nor within the margin: open
    assert _settle(models, [p("x", "y", -0.2, 0.3), p("x", "z", 0.2, 0.4),
                            p("y", "z", 0.1, 0.3)], 0.05)[0] == "open"


def test_swap_state_parsing() -> None:
    assert swap_state({"running": [{"model": "qwen", "state": "ready"}]}, None) == (
        "llama-swap", ["qwen"])
    assert swap_state(None, {"models": [{"name": "llama3:8b"}]}) == ("ollama", ["llama3:8b"])
    assert swap_state({"detail": "not found"}, None) == (None, None)
