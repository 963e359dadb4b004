"""The polyglot verdict rule without containers: the tests each exercise defines (read from
its sources), the runners' reports as read, the judgement, the workspace restored before a
run, and the driver's result channel (nonce, inlined test runner)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from benchdock.harnesses.benchmarks.aider.drivers import testrun
from benchdock.harnesses.benchmarks.aider.drivers.testrun import (
    Report,
    Run,
    judge,
    read_go,
    read_libtest,
)
from benchdock.harnesses.benchmarks.aider.exercises import LANGUAGES, load_exercises
from benchdock.harnesses.benchmarks.aider.session import DRIVER_SOURCE, AiderSession, outcome
from benchdock.harnesses.benchmarks.aider.testnames import cpp_tests, go_tests, rust_tests
from benchdock.harnesses.sandbox.base import Channel
from tests.conftest import POLYGLOT_FIXTURES, POLYGLOT_REAL

REAL_TREE = POLYGLOT_REAL
LEAP_PY = ["leap_test.LeapTest.test_year_not_divisible_by_4",
           "leap_test.LeapTest.test_year_divisible_by_4_not_by_100",
           "leap_test.LeapTest.test_year_divisible_by_100_not_by_400",
           "leap_test.LeapTest.test_year_divisible_by_400"]


def fixture(lang: str) -> Any:
    (ex,) = load_exercises(POLYGLOT_FIXTURES, [lang])
    return ex


def test_the_fixtures_tests_are_read_in_each_runners_naming() -> None:
    assert fixture("python").expected_tests() == LEAP_PY
    assert fixture("go").expected_tests() == ["TestLeapYears"]
    assert fixture("rust").expected_tests() == [
        "tests/leap.rs::year_not_divisible_by_4", "tests/leap.rs::year_divisible_by_4_not_by_100",
        "tests/leap.rs::year_divisible_by_100_not_by_400", "tests/leap.rs::year_divisible_by_400"]
    # all four TEST_CASEs, not only the one outside `#if defined(EXERCISM_RUN_ALL_TESTS)`
    assert fixture("cpp").expected_tests() == [
        "year_not_divisible_by_4_in_common_year",
        "year_divisible_by_4_not_divisible_by_100_in_leap_year",
        "year_divisible_by_100_not_divisible_by_400_in_common_year",
        "year_divisible_by_400_is_leap_year"]
    assert len(fixture("java").expected_tests()) >= 1


def test_static_parsers_follow_the_languages_rules() -> None:
    cpp = b'''#include "x.h"
    TEST_CASE("plain") {}
    // TEST_CASE("commented out") {}
    #if defined(EXERCISM_INCLUDE_BENCHMARK)
    TEST_CASE("benchmark") {}
    #endif
    #if defined(EXERCISM_RUN_ALL_TESTS)
    TEST_CASE(
        // clang-format off
        "split " "literal", "[tag]") {}
    TEST_CASE("push/pop \\"quoted\\"") {}
    #endif
    '''
    assert cpp_tests({"x_test.cpp": cpp}) == ["plain", "split literal", 'push/pop "quoted"']
    rust = b'''
    #[test] fn top() {}
    #[test]
    #[ignore]
    fn top_ignored() { let s = "}"; let c = '}'; }
    fn helper<'a>(x: &'a str) -> &'a str { x }
    mod outer { use super::*;
        mod inner { #[test] fn deep() {} }
        #[cfg(feature = "io")] mod io { #[test] fn gated() {} }
        #[test] #[cfg(feature = "extra")] fn gated_fn() {}
    }
    macro_rules! t { ($n:ident) => { #[test] fn $n() {} } }
    '''
    files = {"tests/x.rs": rust, "Cargo.toml": b'[features]\ndefault = ["extra"]\nio = []\n'}
    assert rust_tests(files) == ["tests/x.rs::top", "tests/x.rs::top_ignored",
                                 "tests/x.rs::outer::inner::deep", "tests/x.rs::outer::gated_fn"]
    go = (b"//go:build step2 || (!step1 && !step3)\npackage p\nfunc TestA(t *testing.T) {}\n"
          b"func Testlower(t *testing.T) {}\nfunc TestMain(m *testing.M) {}\n")
    bonus = b"//go:build bonus\n// +build bonus\npackage p\nfunc TestBonus(t *testing.T) {}\n"
    assert go_tests({"a_test.go": go, "bonus_test.go": bonus, "sub/b_test.go": go}) == ["TestA"]


@pytest.mark.skipif(not REAL_TREE.is_dir(), reason=f"no polyglot-benchmark tree at {REAL_TREE}")
def test_every_real_exercise_defines_tests_the_parsers_find() -> None:
    totals = {}
    for lang in LANGUAGES:
        exercises = load_exercises(REAL_TREE, [lang])
        assert len(exercises) == LANGUAGES[lang].count
        empty = [e.name for e in exercises if not e.expected_tests()]
        # go/counter asks the model to write the test suite: its test file holds no test
        assert empty == (["counter"] if lang == "go" else []), lang
        totals[lang] = sum(len(e.expected_tests()) for e in exercises)
    # counted independently: `def test_`, TEST_CASE( outside the benchmark block, @Test
    # (790) less java/forth's one bare @Disabled and java/satellite's two @Disabled in
    # TreeTest.java, a test source its config does not list (so Aider's benchmark leaves them
    # disabled and Gradle skips them), test(/xtest(/it( (908) less the 25 that
    # stay skipped in Aider's benchmark (grep's 23 xit, palindrome-products' and
    # robot-name's test.skip); go's and rust's as `go test -json` and cargo test listed them
    # for the reference solutions that build in the image (37 and 22)
    assert totals == {"cpp": 458, "go": 113, "java": 787, "javascript": 883, "python": 584,
                      "rust": 614}


def run(code: int | None = 0, stdout: str = "", side: str = "") -> Run:
    return Run(exit_code=code, timed_out=code is None, stdout=stdout, stderr="", side=side)


def full(tests: list[str], outcome: str = "passed") -> Report:
    return Report(found=True, complete=True, tests=dict.fromkeys(tests, outcome))


def test_a_pass_needs_a_complete_report_listing_every_test_as_passed_and_exit_0() -> None:
    ok = judge("pytest-junit", LEAP_PY, full(LEAP_PY), run(), 180)
    assert ok["verdict"] == "pass" and ok["reason"] is None
    assert (ok["expected"], ok["ran"], ok["passed"], ok["failed"]) == (4, 4, 4, 0)

    def why(rep: Report, r: Run | None = None, expected: list[str] = LEAP_PY) -> str:
        out = judge("pytest-junit", expected, rep, r or run(), 180)
        assert out["verdict"] == "fail"
        return str(out["reason"])

    assert why(Report(problem="no report file was written")) == (
        "pytest wrote no report (no report file was written; the test command exited 0)")
    assert why(Report(found=True, problem="pytest.xml is not a whole XML report")).startswith(
        "pytest's report is incomplete")
    assert why(Report(found=True, complete=True)) == "pytest reported no tests"
    some = full(LEAP_PY[:3])
    assert why(some) == ("leap_test.LeapTest.test_year_divisible_by_400 is not in pytest's "
                         "report (1 of the exercise's 4 tests missing)")
    some.tests[LEAP_PY[3]] = "failed"
    assert why(some).startswith("1 test(s) failed or errored: leap_test.LeapTest.test_year_div")
    assert why(full(LEAP_PY, "skipped")).startswith("4 test(s) skipped")
    assert why(full(LEAP_PY), run(1)) == ("the test command exited 1 although pytest's report "
                                           "shows every test passed")
    assert why(full(LEAP_PY), run(None)) == "the tests did not finish within 180s"
    assert why(full(LEAP_PY), expected=[]).startswith("the exercise's test files define no tests")
    # Catch2 lists a TEST_CASE with SECTIONs as name/section entries: all must pass
    sections = full(["owns_zebra/Owns zebra", "drinks_water/Drinks water"])
    assert judge("catch2-junit", ["owns_zebra", "drinks_water"], sections, run(), 1)["verdict"] == "pass"
    sections.tests["owns_zebra/Other"] = "failed"
    assert judge("catch2-junit", ["owns_zebra"], sections, run(), 1)["verdict"] == "fail"


def test_go_events_count_only_with_the_package_result_and_benchdocks_testmain(tmp_path: Path) -> None:
    ev = [{"Action": "run", "Test": "TestA"}, {"Action": "pass", "Test": "TestA"},
          {"Action": "pass", "Test": "TestA/sub"}, {"Action": "pass", "Package": "p"}]
    text = "\n".join(json.dumps(e) for e in ev) + "\nnot json\n"
    done = tmp_path / "go-done"
    rep = read_go(text, done)
    assert rep.tests == {"TestA": "passed"} and not rep.complete
    assert "never returned to benchdock's TestMain" in rep.problem
    done.write_text("m.Run returned 0\n")
    assert read_go(text, done).complete
    cut = read_go("\n".join(json.dumps(e) for e in ev[:2]), None)
    assert not cut.complete and "did not finish" in cut.problem
    assert not read_go("PASS\nok  \tp\t0.01s\n", None).found  # a printed summary is no report


LIBTEST = """   Compiling leap v1.0.0
     Running unittests src/lib.rs (target/debug/deps/leap-1)

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

     Running tests/leap.rs (target/debug/deps/leap-2)

running 2 tests
test a ... ok
test m::b ... ok

test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

   Doc-tests leap

running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
"""


def test_libtest_lines_count_only_when_libtests_own_log_agrees() -> None:
    want = ["tests/leap.rs::a", "tests/leap.rs::m::b"]
    rep = read_libtest(LIBTEST, "ok a\nok m::b\n")
    assert rep.complete and judge("libtest", want, rep, run(), 1)["verdict"] == "pass"
    printed = read_libtest(LIBTEST, "")  # the lines were printed, the binaries logged nothing
    assert not printed.complete and "not in libtest's log" in printed.problem
    cut = LIBTEST.split("test m::b")[0]  # the binary exited during its tests
    rep = read_libtest(cut, "ok a\n")
    assert not rep.complete and "tests/leap.rs ended without its test result" in rep.problem
    assert not read_libtest("test result: ok. 2 passed; 0 failed; 0 ignored", "").found


def test_restore_puts_back_the_benchmarks_files_and_drops_what_could_steer_the_runner(
        tmp_path: Path) -> None:
    root = tmp_path / "ex" / "leap"
    root.mkdir(parents=True)
    originals = {"leap.py": b"stub\n", "leap_test.py": b"real tests\n", "data/x.txt": b"d\n"}
    (root / "leap.py").write_text("solution\n")
    (root / "leap_test.py").write_text("def test_nothing(): pass\n")  # the model's rewrite
    added = ["conftest.py", "pytest.py", "os.py", "test_extra.py", "pytest.ini", ".hidden.py"]
    for name in [*added, "helpers.py"]:
        (root / name).write_text("x = 1\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("host file\n")
    (root / "escape").symlink_to(outside)
    removed = testrun.restore(root, "python", originals, ["leap.py"])
    assert removed == sorted([*added, "escape"])
    assert (root / "leap.py").read_text() == "solution\n"  # the solution stays
    assert (root / "leap_test.py").read_text() == "real tests\n"
    assert (root / "data" / "x.txt").read_text() == "d\n" and (root / "helpers.py").is_file()
    assert (outside / "keep.txt").is_file()  # a link is removed, never followed
    assert testrun.may_add("rust", "src/util.rs") and not testrun.may_add("rust", "build.rs")
    assert not testrun.may_add("go", "extra_test.go") and testrun.may_add("go", "util.go")
    assert not testrun.may_add("javascript", "babel.config.js")


def test_the_driver_ships_with_the_test_runner_inlined() -> None:
    compile(DRIVER_SOURCE, "driver", "exec")
    assert "benchdock.harnesses" not in DRIVER_SOURCE.replace(
        "benchdock.harnesses.benchmarks.aider", "")  # nothing else of benchdock is imported
    assert "def run_tests(" in DRIVER_SOURCE and "def make_undumpable(" in DRIVER_SOURCE


def test_a_pass_is_the_reports_word_never_the_attempts_flag_alone() -> None:
    ex = fixture("python")
    report = judge("pytest-junit", LEAP_PY, Report(problem="no report file was written"),
                   run(0), 180)
    attempt = {"attempt": 1, "response": "r", "passed": True, "test_output": "", "report": report}
    forged = outcome(ex, {"status": "done", "tests_outcomes": [True], "attempts": [attempt]})
    assert forged.verdict == "fail" and "pytest wrote no report" in (forged.detail or "")
    attempt["report"] = judge("pytest-junit", LEAP_PY, full(LEAP_PY), run(0), 180)
    real = outcome(ex, {"status": "done", "tests_outcomes": [True], "attempts": [attempt]})
    assert real.verdict == "pass" and "pytest reports all 4" in (real.detail or "")
    assert real.extra["attempts"][0]["report"]["passed"] == 4  # the evidence keeps the summary
    none = outcome(ex, {"status": "unjudgeable", "reason": "no tests"})
    assert none.verdict == "error" and "no tests to judge with" in (none.detail or "")


class Driver(Channel):
    """Answers the session's init line with `reply(init)` lines, as a driver would."""

    def __init__(self, reply: Any) -> None:
        super().__init__()
        self.reply = reply

    def send(self, data: bytes) -> None:
        for line in self.reply(json.loads(data)):
            self.lines.put(json.dumps(line))

    def close(self) -> None:
        pass


def test_a_result_without_the_sessions_nonce_is_never_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    session = object.__new__(AiderSession)
    session.sandbox_kind, session.timeout_s, session.closed = "docker", 5.0, False
    session.private_tmp = True
    session._live, session._lock = set(), threading.Lock()
    monkeypatch.setattr(session, "_init", lambda ex, tag, workdir: {"name": ex.name})
    done = {"status": "done", "tests_outcomes": [True], "attempts": []}

    def solve(reply: Any) -> dict[str, Any]:
        monkeypatch.setattr(session, "_open", lambda workdir: Driver(reply))
        return session._solve_blocking(fixture("python"), "tag")

    # a forged line (no nonce, or a guessed one) that arrives first is not the driver's
    for forged in ({"result": done}, {"result": done, "nonce": "0" * 32}):
        got = solve(lambda init, f=forged: [f, {"result": done, "nonce": init["nonce"]}])
        assert got["status"] == "crashed" and "without the session's nonce" in got["reason"]
    assert solve(lambda init: [{"event": "started"}, {"result": done,
                                                       "nonce": init["nonce"]}]) == done
