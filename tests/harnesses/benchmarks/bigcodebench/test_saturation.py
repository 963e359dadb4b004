"""The choice tools prefer the least saturated ready generation benchmark, and say why: with
BigCodeBench ready, generation is planned, decided and suggested on it; without it, nothing
changes (HumanEval and HumanEval+ are both saturated: their order stays the catalogue's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchdock.harnesses.choice import catalogue as cat
from benchdock.harnesses.choice.adaptive_setup import choose
from benchdock.harnesses.choice.adaptive_views import DecideRequest
from benchdock.harnesses.contract.registry import get_benchmark


@pytest.fixture
def bcb_ready(real_data: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """BigCodeBench ready here (its data real; its image stood in for: readiness is what the
    choice code reads)."""
    from benchdock.harnesses.benchmarks.bigcodebench.benchmark import BigCodeBench

    monkeypatch.setattr(BigCodeBench, "readiness", lambda self: None)
    cat.catalogue.cache_clear()
    yield
    cat.catalogue.cache_clear()


@pytest.fixture
def bcb_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("BIGCODEBENCH_OVERRIDE_PATH", str(tmp_path / "absent.jsonl"))
    cat.catalogue.cache_clear()
    yield
    cat.catalogue.cache_clear()


def test_frontiers_are_declared_with_their_source() -> None:
    info = get_benchmark("bigcodebench-instruct").info()
    assert info.frontier is not None and info.frontier.pass_at_1 == 0.5
    assert "agentic-coding-evaluation-landscape" in info.frontier.source
    assert get_benchmark("humaneval").frontier.pass_at_1 == 0.95  # type: ignore[union-attr]


def test_unsaturated_benchmarks_come_first_in_the_catalogue_order(bcb_ready: None) -> None:
    ids = [o.bench.id for o in cat.run_options("generation")]
    assert ids[:2] == ["bigcodebench-instruct", "bigcodebench-complete"]
    assert cat.least_saturated_ready("generation").id == "bigcodebench-instruct"  # type: ignore[union-attr]
    note = cat.saturation_note(cat.catalogue()["bigcodebench-instruct"], "generation") or ""
    assert "~50% there against ~95% on humaneval" in note


def test_decide_takes_bigcodebench_for_generation_and_says_why(bcb_ready: None) -> None:
    req = DecideRequest(models=["a", "b"], budget_minutes=30, priorities={"generation": 1.0})
    plan, notes = choose(req, {})
    assert list(plan) == ["bigcodebench-instruct"]
    assert any("least saturated ready generation benchmark" in n for n in notes)


def test_without_bigcodebench_nothing_changes(bcb_missing: None) -> None:
    assert cat.least_saturated_ready("generation") is None
    req = DecideRequest(models=["a", "b"], budget_minutes=30, priorities={"generation": 1.0})
    plan, notes = choose(req, {})
    assert "bigcodebench" not in " ".join(plan) and not any("saturated" in n for n in notes)
