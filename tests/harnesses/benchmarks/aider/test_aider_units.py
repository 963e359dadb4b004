"""The polyglot harness's pure parts: the exercise layout, limits per language, the edit
format choice, and the error when the exercises cannot be downloaded."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from benchdock.harnesses.benchmarks.aider.benchmark import AiderPolyglot
from benchdock.harnesses.benchmarks.aider.exercises import (
    ARCHIVE_URL,
    LANGUAGES,
    ensure_dataset,
    load_exercises,
)
from benchdock.harnesses.benchmarks.aider.session import outcome
from benchdock.harnesses.config import EndpointConfig
from benchdock.harnesses.contract.benchmark import DatasetUnavailable
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.errors import BenchdockError
from tests.conftest import POLYGLOT_FIXTURES


def test_exercise_layout_is_read_as_aiders_benchmark_reads_it() -> None:
    by_id = {e.id: e for e in load_exercises(POLYGLOT_FIXTURES, list(LANGUAGES))}
    assert sorted(by_id) == ["cpp/leap", "go/leap", "java/leap", "python/leap", "rust/leap"]
    rust = by_id["rust/leap"]
    assert rust.solution == ["src/lib.rs"]  # Cargo.toml is never the agent's to edit
    assert rust.example_solution()["src/lib.rs"].startswith("pub fn is_leap_year")
    files = rust.workspace_files()
    assert "tests/leap.rs" in files and "Cargo.toml" in files
    assert not any(f.startswith(".meta") for f in files)  # the example stays out
    assert rust.instructions().startswith("# Instructions")


def test_limit_is_per_language_and_ids_name_the_language(polyglot_fixtures: Path) -> None:
    bench = get_benchmark("aider-polyglot")
    ids = [t.id for t in bench.tasks()]
    assert bench.first([*ids, "python/zzz"], 1) == ids
    assert [t.id for t in get_benchmark("aider-polyglot-go").tasks()] == ["go/leap"]


def test_edit_format_is_validated_and_auto_leaves_it_to_aider(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    from benchdock.harnesses.benchmarks.aider import benchmark as harness

    monkeypatch.setattr(harness, "load_env", lambda root: None)
    bench = get_benchmark("aider-polyglot")
    assert isinstance(bench, AiderPolyglot)
    ep = EndpointConfig(url="http://127.0.0.1:9/v1")
    with pytest.raises(BenchdockError, match=r"edit_format.*'whole', 'diff'"):
        bench.parse_options({"edit_format": "sideways"})
    with pytest.raises(BenchdockError, match=r"edit_fromat.*its options: edit_format"):
        bench.parse_options({"edit_fromat": "udiff"})
    udiff = anyio.run(bench.configure, ep, "m", bench.parse_options({"edit_format": "udiff"}))
    assert udiff == ({"edit_format": "udiff"}, "udiff as asked")
    auto, why = anyio.run(bench.configure, ep, "m", bench.parse_options({}))
    assert auto == {"edit_format": None} and why and "aider's default" in why


def test_missing_aider_env_is_a_clear_tool_error(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("BENCHDOCK_ENVS", str(tmp_path / "no-envs"))
    bench = get_benchmark("aider-polyglot-python")
    assert isinstance(bench, AiderPolyglot)
    with pytest.raises(BenchdockError, match="benchdock setup aider"):
        anyio.run(bench.configure, EndpointConfig(url="http://127.0.0.1:9/v1"), "m",
                  bench.parse_options({}))


def test_no_internet_for_the_download_says_where_to_put_the_exercises(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BENCHDOCK_POLYGLOT_DIR", raising=False)
    monkeypatch.setattr("benchdock.harnesses.benchmarks.aider.exercises.ARCHIVE_URL",
                        "http://127.0.0.1:9/polyglot.tar.gz")  # nothing listens there
    with pytest.raises(DatasetUnavailable) as err:
        ensure_dataset(tmp_path / "polyglot")
    assert "127.0.0.1:9" in str(err.value) and "BENCHDOCK_POLYGLOT_DIR" in str(err.value)
    assert "7e0611e77b54e2dea774cdc0aa00cf9f7ed6144f" in ARCHIVE_URL
    assert not (tmp_path / "polyglot").exists()  # nothing half-written left behind


def test_languages_the_image_may_lack_are_checked_before_the_model_is_asked() -> None:
    # a missing JUnit launcher or jest would otherwise read as the model's failure
    assert "/usr/share/java/junit-platform-console-standalone.jar" in LANGUAGES["java"].tools
    assert "/npm-install/node_modules/.bin/jest" in LANGUAGES["javascript"].tools
    for lang in ("java", "javascript"):  # the runner scripts the image installs
        assert LANGUAGES[lang].test_command[0] in LANGUAGES[lang].tools
    assert "--include-ignored" in LANGUAGES["rust"].test_command  # as Aider's benchmark
    assert "-DEXERCISM_RUN_ALL_TESTS=1" in LANGUAGES["cpp"].test_command[-1]
    assert sum(lang.count for lang in LANGUAGES.values()) == 225


def test_driver_failures_become_verdicts_with_reasons() -> None:
    (ex,) = load_exercises(POLYGLOT_FIXTURES, ["python"])
    missing = outcome(ex, {"status": "toolchain_missing", "reason": "cargo not found"})
    assert missing.verdict == "error" and missing.detail == "toolchain missing: cargo not found"
    crashed = outcome(ex, {"status": "crashed", "reason": "KeyError: 'x'", "traceback": "tb"})
    assert crashed.verdict == "error" and "aider crashed" in (crashed.detail or "")
    assert crashed.extra["traceback"] == "tb"
    late = outcome(ex, {"status": "timeout", "reason": "did not finish within 60s"})
    assert late.verdict == "timeout"
    failed = outcome(ex, {"status": "done", "tests_outcomes": [False, False],
                          "num_malformed_responses": 3, "attempts": [
                              {"attempt": 1, "response": "r1", "passed": False,
                               "test_output": "E   assert None is False"},
                              {"attempt": 2, "response": "r2", "passed": False,
                               "test_output": "E   assert None is True", "timed_out": False}]})
    assert failed.verdict == "fail" and "3 malformed" in (failed.detail or "")
    assert "assert None is True" in (failed.detail or "")
    assert "--- attempt 2 ---\nr2" in failed.completion
    assert failed.extra["passed_on"] is None and failed.extra["tests_outcomes"] == [False, False]
