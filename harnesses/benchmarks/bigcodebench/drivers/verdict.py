"""How the BigCodeBench judge reads its worker's report (installed in the sandbox as
`pyjudge/bigcodebench_verdict.py`; stdlib only, and importable on the host for tests).

`expected_tests` reads, from the task's test code (never run here), which test methods
`unittest.TestLoader().loadTestsFromTestCase(TestCases)` will find and which of them the
test code itself may skip; `decide` turns the worker's report — untrusted evidence — into
the verdict, with the reason naming the failing test and its assertion, and what upstream's
`untrusted_check` would conclude from the same report.
"""

from __future__ import annotations

import ast

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def expected_tests(test_code: str) -> tuple[list[str] | None, set[str]]:
    """The test methods `TestLoader.loadTestsFromTestCase(TestCases)` will find, from the
    test code's syntax (None when a base class is not defined there), and those that the
    test code itself may skip (a skip decorator, or `skipTest` in the method)."""
    try:
        tree = ast.parse(test_code)
    except SyntaxError:
        return None, set()
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    names: list[str] = []
    may_skip: set[str] = set()
    seen: set[str] = set()

    def skips(node: ast.AST) -> bool:
        return "skip" in ast.unparse(node).lower()

    def walk(name: str) -> bool:
        cls = classes.get(name)
        if cls is None:
            return False
        class_skips = any(skips(d) for d in cls.decorator_list)
        for item in cls.body:
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and \
                    item.name.startswith("test") and item.name not in seen:
                seen.add(item.name)
                names.append(item.name)
                if class_skips or any(skips(d) for d in item.decorator_list) or \
                        "skiptest" in ast.unparse(item).lower():
                    may_skip.add(item.name)
        for base in cls.bases:
            text = ast.unparse(base)
            if text in ("unittest.TestCase", "TestCase", "unittest.IsolatedAsyncioTestCase"):
                continue
            if not walk(text.split(".")[-1]):
                return False
        return True

    if not walk("TestCases"):
        return None, may_skip
    return sorted(names), may_skip


def _first_line_of_failure(trace: str) -> str:
    """The assertion (or exception) a traceback ends with, e.g. `AssertionError: 3 != 4`."""
    lines = [ln for ln in trace.strip().splitlines() if ln.strip()]
    for i in range(len(lines) - 1, -1, -1):
        if not lines[i].startswith(" ") and ("Error" in lines[i] or "Exception" in lines[i]
                                             or ":" in lines[i]):
            return "\n".join(lines[i:])[:600]
    return (lines[-1] if lines else "")[:600]


def decide(report: Any, expected: list[str] | None, may_skip: set[str]) -> dict[str, Any]:
    """The verdict from W's (untrusted) report: the status, why, and what upstream's
    `untrusted_check` would say of the same report."""
    if not isinstance(report, dict):
        return {"status": "error", "upstream": "timeout", "reason": "the report is not a record"}
    if report.get("harness_error"):
        return {"status": "error", "upstream": "timeout",
                "reason": f"the judge's worker failed: {report['harness_error']}"}
    raw_details, raw_run = report.get("details"), report.get("run")
    details: dict[str, Any] = raw_details if isinstance(raw_details, dict) else {}
    run: list[Any] = raw_run if isinstance(raw_run, list) else []
    out: dict[str, Any] = {"tests": len(run), "suite_s": report.get("suite_s")}
    if report.get("stat") == 1:  # upstream's _FAILED: the module (code + tests) did not load
        out.update(status="fail", upstream="fail",
                   reason=f"the code did not load with the tests: {str(details.get('ALL'))[:800]}")
        return out
    if report.get("stat") != 0:
        out.update(status="error", upstream="timeout", reason="the report has no outcome")
        return out
    upstream = "fail" if details else "pass"
    out["upstream"] = upstream
    if details:
        failing = sorted(details)
        first = failing[0]
        out.update(status="fail", failing=failing, reason=(
            f"{len(failing)} failing (tests or subtests; {len(run)} tests ran); {first}: "
            f"{_first_line_of_failure(str(details[first]))}"))
        return out
    tampered = report.get("tampered") or []
    if tampered:
        out.update(status="fail", reason=(
            "the code changed the test machinery (" + ", ".join(map(str, tampered[:6]))
            + "): its tests' outcomes cannot be trusted"))
        return out
    if expected is not None and sorted(str(x) for x in run) != expected:
        missing = sorted(set(expected) - {str(x) for x in run})
        out.update(status="fail", reason=(
            f"the suite ran {len(run)} tests, the task has {len(expected)}"
            + (f" (not run: {', '.join(missing[:5])})" if missing else "")))
        return out
    raw_skipped = report.get("skipped")
    skipped: dict[str, Any] = raw_skipped if isinstance(raw_skipped, dict) else {}
    unexplained = sorted(k for k in skipped if k not in may_skip)
    if unexplained:
        out.update(status="fail", reason=(
            f"{len(unexplained)} tests were skipped by the code under test, not by the "
            f"tests ({unexplained[0]}: {str(skipped[unexplained[0]])[:200]})"))
        return out
    out.update(status="pass", reason=None)
    return out


