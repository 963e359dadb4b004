"""Where the data come from, and what is said when they are not there."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from benchdock.harnesses.benchmarks.bigcodebench import data, network
from benchdock.harnesses.contract.benchmark import DatasetUnavailable
from benchdock.harnesses.contract.registry import get_benchmark


def test_real_data_loads_all_tasks_with_network_ones_left_out(real_data: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCHDOCK_BIGCODEBENCH_NETWORK", raising=False)
    bench = get_benchmark("bigcodebench-complete")
    ids = [t.id for t in bench.tasks()]
    assert len(ids) == 1140 - len(network.NEEDS_NETWORK)
    assert not set(ids) & set(network.NEEDS_NETWORK)
    assert len(bench.dataset_hash()) == 32
    monkeypatch.setenv("BENCHDOCK_BIGCODEBENCH_NETWORK", "1")
    allowed = get_benchmark("bigcodebench-complete")
    assert len(allowed.tasks()) == 1140
    assert allowed.sandbox_network() is True


def test_network_tasks_are_real_task_ids(real_data: Path) -> None:
    rows = data.load("full").rows
    assert set(network.NEEDS_NETWORK) <= {r["task_id"] for r in rows}
    assert all(network.NEEDS_NETWORK.values())  # each says what it reaches


def test_missing_override_file_names_itself(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BIGCODEBENCH_OVERRIDE_PATH", str(tmp_path / "nope.jsonl"))
    bench = get_benchmark("bigcodebench-instruct")
    assert "nope.jsonl is not a file" in (bench.readiness() or "")
    with pytest.raises(DatasetUnavailable, match=r"nope\.jsonl"):
        bench.tasks()


def test_hard_subset_says_it_needs_the_hub(real_data: Path) -> None:
    bench = get_benchmark("bigcodebench-complete-hard")
    why = bench.readiness() or ""
    assert "bigcode/bigcodebench-hard" in why and "Hugging Face hub" in why


def test_a_row_without_the_fields_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    f = tmp_path / "bad.jsonl.gz"
    with gzip.open(f, "wt") as fh:
        fh.write(json.dumps({"task_id": "BigCodeBench/0"}) + "\n")
    monkeypatch.setenv("BIGCODEBENCH_OVERRIDE_PATH", str(f))
    with pytest.raises(DatasetUnavailable, match="lacks"):
        get_benchmark("bigcodebench-complete").tasks()
