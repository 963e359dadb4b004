"""Hostile solutions against the polyglot verdict, in every language the image can run: each
is judged exactly as a run's test step judges it (testrun.py in a container of the polyglot
image, under the run's confinement), without aider or a model in between. An exit with
status 0 at start or inside a test, a printed summary (with fake report files at the paths
one might guess), skipped tests, a partial solution and a model-written conftest.py are all
non-passes with the reason the runner's report gives; the reference solutions pass."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from benchdock.harnesses.benchmarks.aider.exercises import load_exercises
from benchdock.harnesses.benchmarks.aider.selfcheck import judge_files
from benchdock.harnesses.sandbox import docker_available
from tests.conftest import POLYGLOT_FIXTURES, POLYGLOT_IMAGE

FAKE_PYTEST = """import os, sys
print("....                                                                     [100%]")
print("4 passed in 0.01s")
xml = '<testsuites><testsuite name="pytest" errors="0" failures="0" tests="4">' + "".join(
    f'<testcase classname="leap_test.LeapTest" name="{n}"/>' for n in (
        "test_year_not_divisible_by_4", "test_year_divisible_by_4_not_by_100",
        "test_year_divisible_by_100_not_by_400", "test_year_divisible_by_400")) + "</testsuite></testsuites>"
for path in ("pytest.xml", "report.xml", "../report.xml", "/tmp/pytest.xml"):
    try:
        open(path, "w").write(xml)
    except OSError:
        pass
sys.stdout.flush()
os._exit(0)
"""

GO_HEAD = "package leap\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nvar _ = fmt.Sprint\n\n"
# straight to the process's stdout: libtest captures print! inside tests, not io::stdout()
RUST_FORGED = "\n".join(f'    let _ = out.write_all(b"test {n} ... ok\\n");' for n in (
    "year_not_divisible_by_4", "year_divisible_by_4_not_by_100",
    "year_divisible_by_100_not_by_400", "year_divisible_by_400"))
CPP_HEAD = '#include "leap.h"\n#include <cstdio>\n#include <cstdlib>\n\n'

CASES: dict[str, dict[str, dict[str, str]]] = {
    "python": {
        "exit_at_import": {"leap.py": "import os\nos._exit(0)\n"},
        "sys_exit_at_import": {"leap.py": "import sys\nsys.exit(0)\n"},
        "exit_in_test": {"leap.py": "import os\n\ndef leap_year(year):\n    os._exit(0)\n"},
        "fake_summary": {"leap.py": FAKE_PYTEST},
        "skip_all": {"leap.py": "import unittest\nraise unittest.SkipTest('later')\n"},
        "partial": {"leap.py": "def leap_year(year):\n    return year % 4 == 0\n"},
        "conftest": {"leap.py": "def leap_year(year):\n    return year % 4 == 0\n",
                     "conftest.py": (
                         "import pytest\n\n@pytest.hookimpl(hookwrapper=True)\n"
                         "def pytest_runtest_makereport(item, call):\n    out = yield\n"
                         "    rep = out.get_result()\n    rep.outcome = 'passed'\n")},
    },
    "go": {
        "exit_at_start": {"leap.go": GO_HEAD + "func init() { os.Exit(0) }\n\n"
                          "func IsLeapYear(year int) bool { return false }\n"},
        "exit_in_test": {"leap.go": GO_HEAD + "func IsLeapYear(year int) bool {\n"
                         "\tos.Exit(0)\n\treturn false\n}\n"},
        "fake_summary": {"leap.go": GO_HEAD + "func init() {\n\tfmt.Println(\"=== RUN   "
                         "TestLeapYears\\n--- PASS: TestLeapYears (0.00s)\\nPASS\")\n"
                         "\tos.Exit(0)\n}\n\nfunc IsLeapYear(year int) bool { return false }\n"},
        "partial": {"leap.go": "package leap\n\nfunc IsLeapYear(year int) bool {\n"
                    "\treturn year%4 == 0\n}\n"},
    },
    "rust": {
        "exit_at_start": {"src/lib.rs": (
            "#[used]\n#[link_section = \".init_array\"]\n"
            "static EXIT_AT_LOAD: extern \"C\" fn() = {\n"
            "    extern \"C\" fn bye() { std::process::exit(0) }\n    bye\n};\n\n"
            "pub fn is_leap_year(_year: u64) -> bool { false }\n")},
        "exit_in_test": {"src/lib.rs": "pub fn is_leap_year(_year: u64) -> bool {\n"
                         "    std::process::exit(0)\n}\n"},
        "fake_summary": {"src/lib.rs": "use std::io::Write;\n\n"
                         "pub fn is_leap_year(_year: u64) -> bool {\n"
                         "    let mut out = std::io::stdout();\n"
                         f"{RUST_FORGED}\n    let _ = out.write_all(b\"\\ntest result: ok. 4 passed; "
                         "0 failed; 0 ignored; 0 measured; 0 filtered out\\n\");\n"
                         "    let _ = out.flush();\n    std::process::exit(0)\n}\n"},
        "partial": {"src/lib.rs": "pub fn is_leap_year(year: u64) -> bool {\n"
                    "    year % 4 == 0\n}\n"},
    },
    "cpp": {
        "exit_at_start": {"leap.cpp": CPP_HEAD + "namespace {\nstruct Bye {\n"
                          "    Bye() { std::exit(0); }\n} bye;\n}  // namespace\n\n"
                          "namespace leap {\nbool is_leap_year(int) { return false; }\n}\n"},
        "exit_in_test": {"leap.cpp": CPP_HEAD + "namespace leap {\nbool is_leap_year(int) {\n"
                         "    std::exit(0);\n}\n}  // namespace leap\n"},
        "fake_summary": {"leap.cpp": CPP_HEAD + "namespace leap {\nbool is_leap_year(int) {\n"
                         "    std::puts(\"All tests passed (4 assertions in 4 test cases)\");\n"
                         "    if (FILE* f = std::fopen(\"catch2.xml\", \"w\")) {\n"
                         "        std::fputs(\"<testsuites><testsuite name=\\\"leap\\\"/>"
                         "</testsuites>\", f);\n        std::fclose(f);\n    }\n"
                         "    std::exit(0);\n}\n}  // namespace leap\n"},
        "partial": {"leap.cpp": CPP_HEAD + "namespace leap {\nbool is_leap_year(int year) {\n"
                    "    return year % 4 == 0;\n}\n}  // namespace leap\n"},
    },
}

# What the runner's report must make of each (a fragment of the verdict's reason)
REASONS = {
    ("python", "exit_at_import"): "pytest wrote no report (no report file was written; the "
                                  "test command exited 0)",
    ("python", "sys_exit_at_import"): "1 test(s) failed or errored: leap_test",
    ("python", "exit_in_test"): "pytest wrote no report",
    ("python", "fake_summary"): "pytest wrote no report",
    ("python", "skip_all"): "are not in pytest's report (4 of the exercise's 4 tests missing)",
    ("python", "partial"): "1 test(s) failed or errored: "
                           "leap_test.LeapTest.test_year_divisible_by_100_not_by_400",
    ("python", "conftest"): "1 test(s) failed or errored",
    ("go", "exit_at_start"): "never returned to benchdock's TestMain",
    ("go", "exit_in_test"): "1 test(s) failed or errored: TestLeapYears",
    ("go", "fake_summary"): "never returned to benchdock's TestMain",
    ("go", "partial"): "1 test(s) failed or errored: TestLeapYears",
    ("rust", "exit_at_start"): "cargo test's report is incomplete: tests/leap.rs ended "
                               "without its test result",
    ("rust", "exit_in_test"): "cargo test's report is incomplete: tests/leap.rs ended",
    ("rust", "fake_summary"): "said 'ok' on stdout but are not in libtest's log",
    ("rust", "partial"): "1 test(s) failed or errored: "
                         "tests/leap.rs::year_divisible_by_100_not_by_400",
    ("cpp", "exit_at_start"): "Catch2 wrote no report (no report file was written; the test "
                              "command exited 0)",
    # Catch2 opens its report file at start and writes it at the end: left empty
    ("cpp", "exit_in_test"): "Catch2's report is incomplete: catch2.xml is not a whole XML",
    ("cpp", "fake_summary"): "Catch2's report is incomplete: catch2.xml is not a whole XML",
    ("cpp", "partial"): "1 test(s) failed or errored: "
                        "year_divisible_by_100_not_divisible_by_400_in_common_year",
}


@pytest.fixture(scope="module")
def image() -> str:
    ok, why = docker_available(POLYGLOT_IMAGE)
    if not ok:
        if os.environ.get("BENCHDOCK_REQUIRE_DOCKER") == "1" or \
                os.environ.get("BENCHDOCK_REQUIRE_AIDER") == "1":
            pytest.fail(f"the polyglot image is needed: {why}")
        pytest.skip(f"polyglot image not usable: {why}")
    return POLYGLOT_IMAGE


@pytest.mark.parametrize("lang", list(CASES))
def test_reference_passes_and_every_hostile_solution_fails_with_its_reason(
        lang: str, image: str) -> None:
    (ex,) = load_exercises(POLYGLOT_FIXTURES, [lang])
    jobs: list[tuple[str, dict[str, str]]] = [("reference", ex.example_solution()),
                                              *CASES[lang].items()]
    with ThreadPoolExecutor(max_workers=3) as pool:
        verdicts = dict(pool.map(lambda j: (j[0], judge_files(ex, j[1], image)), jobs))
    ref = verdicts["reference"]
    assert ref.get("passed") is True, ref
    assert ref["report"]["missing_count"] == 0
    assert ref["report"]["passed"] == len(ex.expected_tests())
    for name in CASES[lang]:
        got = verdicts[name]
        assert got.get("passed") is False, (name, got)
        report = got["report"]
        assert report["verdict"] == "fail"
        assert REASONS[(lang, name)] in report["reason"], (name, report["reason"], got["output"])
    if lang == "python":  # the model's conftest.py never reached pytest
        assert verdicts["conftest"]["report"]["removed_files"] == ["conftest.py"]
