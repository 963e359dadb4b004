"""The judge's reading of its worker's report: what counts as a pass, and the evidence a
failure carries. (The worker's report is untrusted; these are the rules that make a
forged, partial or tampered report a non-pass.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchdock.harnesses.benchmarks.bigcodebench import data
from benchdock.harnesses.benchmarks.bigcodebench.drivers.verdict import decide, expected_tests

TEST = """import unittest
class Base(unittest.TestCase):
    def test_shared(self):
        pass
class TestCases(Base):
    def test_a(self):
        self.assertEqual(1, 1)
    @unittest.skipIf(True, "no display")
    def test_b(self):
        pass
    def helper(self):
        pass
"""


def report(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"stat": 0, "details": {}, "run": ["test_a", "test_b", "test_shared"],
                            "skipped": {}, "tampered": [], "suite_s": 0.1}
    return {**base, **over}


def test_expected_tests_follow_the_loader_through_local_bases() -> None:
    names, may_skip = expected_tests(TEST)
    assert names == ["test_a", "test_b", "test_shared"]
    assert may_skip == {"test_b"}


def test_every_real_suite_is_enumerated(real_data: Path) -> None:
    unknown = [r["task_id"] for r in data.load("full").rows
               if not expected_tests(r["test"])[0]]
    assert len(unknown) < 12, unknown  # only suites whose base class is imported


def test_clean_report_passes() -> None:
    names, skip = expected_tests(TEST)
    got = decide(report(), names, skip)
    assert got["status"] == "pass" and got["upstream"] == "pass"


def test_failure_names_the_test_and_the_assertion() -> None:
    trace = ('Traceback (most recent call last):\n  File "__test__.py", line 9, in test_a\n'
             "    self.assertEqual(result, 4)\nAssertionError: 3 != 4\n")
    names, skip = expected_tests(TEST)
    got = decide(report(details={"test_a": trace}), names, skip)
    assert got["status"] == "fail" and got["upstream"] == "fail"
    assert got["failing"] == ["test_a"]
    assert "test_a: AssertionError: 3 != 4" in got["reason"]


def test_module_that_does_not_load_fails_as_upstream() -> None:
    got = decide(report(stat=1, details={"ALL": "SyntaxError: invalid syntax"}, run=[]), None, set())
    assert got["status"] == "fail" and got["upstream"] == "fail"
    assert "SyntaxError" in got["reason"]


def test_tampered_machinery_is_not_a_pass_even_where_upstream_says_pass() -> None:
    names, skip = expected_tests(TEST)
    got = decide(report(tampered=["unittest.case.TestCase.assertEqual"]), names, skip)
    assert got["status"] == "fail" and got["upstream"] == "pass"
    assert "TestCase.assertEqual" in got["reason"]


def test_tests_that_did_not_run_are_not_a_pass() -> None:
    names, skip = expected_tests(TEST)
    got = decide(report(run=["test_a"]), names, skip)
    assert got["status"] == "fail" and "not run: test_b, test_shared" in got["reason"]


def test_a_skip_the_tests_do_not_make_is_not_a_pass() -> None:
    names, skip = expected_tests(TEST)
    assert decide(report(skipped={"test_b": "no display"}), names, skip)["status"] == "pass"
    got = decide(report(skipped={"test_a": "skipped by task_func"}), names, skip)
    assert got["status"] == "fail" and "skipped by the code under test" in got["reason"]


def test_garbage_reports_are_errors() -> None:
    for bad in ("pass", ["pass"], {"stat": None}, {"harness_error": "boom"}):
        got = decide(bad, None, set())
        assert got["status"] == "error", bad
