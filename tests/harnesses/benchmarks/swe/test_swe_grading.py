"""benchdock's reading of a test log equals swebench 5.0.2's own (`get_eval_report` with
`get_logs_eval` and `parse_log_pytest`), on logs recorded from real runs of benchdock's eval
script in instance containers (tests/scripts/record_swe_logs.py) and on tampered copies of them:
a non-zero exit with only passing lines, a skipped FAIL_TO_PASS test, a missing end marker,
a timeout. Needs the `swe` venv (swebench), not Docker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchdock.harnesses.benchmarks.swe import grading
from benchdock.harnesses.config import default_envs_dir
from tests.conftest import FIXTURES

SWE_FIXTURES = FIXTURES / "swe"
CASES = ("gold", "gold-2", "empty", "breaks-p2p", "does-not-apply")
EXPECTED = {"gold": True, "gold-2": True, "empty": False, "breaks-p2p": False,
            "does-not-apply": False, "p2p-skipped": True}  # as SWE-bench: no regression


@pytest.fixture(scope="module")
def swe_python() -> Path:
    from benchdock.harnesses.benchmarks.swe.environment import load_env
    from benchdock.harnesses.envs.managed import EnvironmentMissing

    try:
        return load_env(default_envs_dir()).python
    except EnvironmentMissing as exc:
        import os

        if os.environ.get("BENCHDOCK_REQUIRE_SWE") == "1":
            pytest.fail(f"BENCHDOCK_REQUIRE_SWE=1 but {exc}")
        pytest.skip(str(exc))


def recorded() -> list[tuple[str, dict[str, Any], str]]:
    return [(n, json.loads((SWE_FIXTURES / f"{n}.json").read_text()),
             (SWE_FIXTURES / f"{n}.log").read_text()) for n in CASES]


def tampered() -> list[tuple[str, dict[str, Any], str]]:
    """Copies of the gold log with one thing changed in the log itself."""
    _, meta, log = recorded()[0]
    f2p = meta["FAIL_TO_PASS"][0]
    return [
        ("exit-1-all-passed", meta, log.replace(">>>>> Test Exit Code: 0",
                                                ">>>>> Test Exit Code: 1")),
        ("f2p-skipped", meta, log.replace(f"PASSED {f2p}\n", f"SKIPPED {f2p}\n")),
        ("no-end-marker", meta, log.replace(grading.END, "")),
        ("timed-out", meta, log + "\n>>>>> Tests Timed Out\n"),
        ("f2p-missing", meta, log.replace(f"PASSED {f2p}\n", "")),
        ("p2p-skipped", meta, log.replace(f"PASSED {meta['PASS_TO_PASS'][0]}\n",
                                          f"SKIPPED {meta['PASS_TO_PASS'][0]}\n")),
    ]


def test_benchdocks_grading_equals_swebenchs_on_recorded_and_tampered_logs(
        swe_python: Path) -> None:
    cases = recorded() + tampered()
    jobs = [{"op": "report", "instance_id": meta["instance_id"], "FAIL_TO_PASS":
             meta["FAIL_TO_PASS"], "PASS_TO_PASS": meta["PASS_TO_PASS"],
             "model_patch": meta["model_patch"], "log": log} for _, meta, log in cases]
    official = grading.swebench(swe_python, jobs)
    for (name, meta, log), theirs in zip(cases, official, strict=True):
        ours = grading.own_report(log, meta["FAIL_TO_PASS"], meta["PASS_TO_PASS"],
                                  meta["model_patch"])
        assert ours["resolved"] == theirs["resolved"], name
        assert ours["patch_successfully_applied"] == theirs["patch_successfully_applied"], name
        if theirs.get("tests_status"):
            for kind in ("FAIL_TO_PASS", "PASS_TO_PASS"):
                assert ours["tests_status"][kind] == theirs["tests_status"][kind], (name, kind)
        if name in EXPECTED:
            assert theirs["resolved"] is EXPECTED[name], name
        else:  # every tampered copy of a resolving log
            assert theirs["resolved"] is False, name
    statuses = grading.swebench(swe_python, [{"op": "parse", "log": log}
                                             for _, _, log in recorded()])
    for (name, _, log), theirs in zip(recorded(), statuses, strict=True):
        body = log.split(grading.START, 1)[-1].split(grading.END, 1)[0]
        assert grading.parse_pytest(body) == theirs or name == "does-not-apply", name


def test_the_eval_script_restores_tests_and_removes_runner_configuration() -> None:
    script = grading.eval_script(("toolz/tests",), True, False)
    assert "git checkout -q HEAD -- toolz/tests" in script
    assert "conftest" in script and "no:cacheprovider" in script and "-rA" in script
    assert "os._exit" in script and script.index("os._exit") < script.index(grading.START)
    assert script.index("git apply") < script.index("git checkout -q HEAD")
