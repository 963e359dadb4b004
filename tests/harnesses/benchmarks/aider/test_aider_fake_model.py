"""The polyglot protocol checked against known answers: aider itself, in the real polyglot
image, talks through benchdock's recording proxy to an in-process fake model that answers
with the exercise's reference solution (passes on attempt 1), with a wrong one and then,
once the real test output arrives, the right one (passes on attempt 2), or with edits that
never apply (malformed), in all the languages the fixtures have (Java on the image's
offline JUnit runner)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import httpx

from benchdock.harnesses.benchmarks.aider.exercises import Exercise, load_exercises
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.engine.executor import RunExecutor
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from benchdock.store.tables import Run
from tests.conftest import make_settings
from tests.harnesses.benchmarks.bfcl.test_bfcl_fake_model import fake_endpoint, last_user
from tests.server.test_e2e import owned_containers

SECOND_ATTEMPT = "See the testing errors above"


def exercises(root: Path) -> dict[str, Exercise]:
    return {e.id: e for e in load_exercises(root, ["cpp", "go", "java", "python", "rust"])}


def whole_edit(ex: Exercise, files: dict[str, str]) -> str:
    """An answer in aider's `whole` format: each file's path (as aider shows it: relative
    to the common folder of the files it edits) above a fenced block of its new content."""
    common = os.path.commonpath([str(Path(f).parent) for f in ex.solution] or ["."])
    out = ["Here is the updated code."]
    for path, text in files.items():
        shown = os.path.relpath(path, common) if common not in ("", ".") else path
        out.append(f"{shown}\n```\n{text.rstrip()}\n```")
    return "\n\n".join(out) + "\n"


def which_exercise(body: dict[str, Any], known: dict[str, Exercise]) -> Exercise:
    """The exercise a request is about: aider sends its solution files by name."""
    text = "\n".join(str(m.get("content")) for m in body["messages"])
    for name, tid in (("leap.cpp", "cpp/leap"), ("leap.go", "go/leap"),
                      ("leap.py", "python/leap"), ("lib.rs", "rust/leap"), ("Leap.java", "java/leap")):
        if name in text:
            return known[tid]
    raise AssertionError(f"request about no known exercise: {text[-300:]}")


WRONG = {"python": {"leap.py": "def leap_year(year):\n    return year % 4 == 0\n"}}

# A solution that, at import, tries to write a forged result line into the pipes of every
# other process it can reach (the driver's protocol pipe among them), then says what it could
# do in an exception pytest shows. Only ever run inside the driver's container: it refuses
# to act unless PID 1 is benchdock's driver, touches pipes only and appends (never opens a
# file for writing), so even run by mistake on a host it cannot truncate anything.
FORGER = """import json, os
if "/opt/bdpy/" not in open("/proc/1/cmdline", "rb").read().decode(errors="replace"):
    raise RuntimeError("FORGERY refused: not in benchdock's driver container")
forged = json.dumps({"result": {"status": "done", "tests_outcomes": [True], "attempts": [
    {"attempt": 1, "passed": True, "report": {"verdict": "pass"}}]}}) + "\\n"
seen = []
for pid in sorted(p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()):
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError as exc:
        seen.append(f"{pid}:{type(exc).__name__}")
        continue
    for fd in fds:
        try:
            if not os.readlink(f"/proc/{pid}/fd/{fd}").startswith("pipe:"):
                continue
            with open(f"/proc/{pid}/fd/{fd}", "a") as f:
                f.write(forged)
            seen.append(f"{pid}/{fd}:written")
        except OSError as exc:
            seen.append(f"{pid}/{fd}:{type(exc).__name__}")
raise RuntimeError("FORGERY " + " ".join(seen))
"""

# Solutions that end their test process with status 0 before the tests can fail (go, rust,
# cpp), or try to forge the driver's result (python)
HOSTILE = {
    "python": {"leap.py": FORGER},
    "go": {"leap.go": "package leap\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc init() {\n"
           "\tfmt.Println(\"--- PASS: TestLeapYears (0.00s)\\nPASS\")\n\tos.Exit(0)\n}\n\n"
           "func IsLeapYear(year int) bool { return false }\n"},
    "rust": {"src/lib.rs": "pub fn is_leap_year(_year: u64) -> bool {\n"
             "    println!(\"test result: ok. 4 passed; 0 failed; 0 ignored\");\n"
             "    std::process::exit(0)\n}\n"},
    "cpp": {"leap.cpp": "#include \"leap.h\"\n#include <cstdlib>\n\nnamespace {\nstruct Bye {\n"
            "    Bye() { std::exit(0); }\n} bye;\n}  // namespace\n\nnamespace leap {\n"
            "bool is_leap_year(int) { return false; }\n}  // namespace leap\n"},
}


def make_run(tmp_path: Path, task_ids: list[str], mode: str | None = None,
             run_id: str = "aider-fake", sandbox: str = "docker") -> tuple[Any, Any, Run]:
    settings = make_settings(tmp_path, "http://fake/v1", sandbox=sandbox)
    db = make_engine(settings.database_url)
    bench = get_benchmark("aider-polyglot")
    run = Run(id=run_id, benchmark="aider-polyglot", benchmark_version=bench.version,
              dataset_hash="h", model="fake", endpoint_url="http://fake/v1", task_ids=task_ids,
              total=len(task_ids), status="running", concurrency=2,
              params={"temperature": 0.0, "top_p": 1.0, "max_tokens": 512,
                      "options": {"edit_format": mode}})
    q.add_run(db, run)
    return settings, db, run


def run_fake(tmp_path: Path, task_ids: list[str], answer: Any, mode: str | None = None,
             run_id: str = "aider-fake", sandbox: str = "docker") -> tuple[str, Run, Any]:
    settings, db, run = make_run(tmp_path, task_ids, mode, run_id, sandbox)
    status = anyio.run(RunExecutor(settings, db, run, answer).execute)
    done = q.get_run(db, run.id)
    assert done is not None
    return status, done, db


def test_reference_edits_pass_on_attempt_one_in_every_language(
        tmp_path: Path, aider_ready: str, polyglot_fixtures: Path) -> None:
    known = exercises(polyglot_fixtures)
    seen: list[dict[str, Any]] = []

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        ex = which_exercise(body, known)
        return {"content": whole_edit(ex, ex.example_solution())}

    ids = ["cpp/leap", "go/leap", "python/leap", "rust/leap", "java/leap"]
    status, run, db = run_fake(tmp_path, ids, fake_endpoint(answer, seen))
    assert status == "succeeded", run.error
    by_id = {s.task_id: s for s in q.all_samples(db, run.id)}
    for tid in ids:
        s = by_id[tid]
        assert s.verdict == "pass", (tid, s.detail, s.extra)
        assert s.extra is not None
        assert s.extra["tests_outcomes"] == [True] and s.extra["passed_on"] == 1
        assert s.extra["edit_format"] == "whole" and s.extra["num_malformed_responses"] == 0
        assert s.extra["exchanges"] and s.extra["exchanges"][0]["completion_tokens"] == 7
        assert s.code and "400" in s.code  # the edited solution file as it ended
        # the pass is the runner's report of every test the exercise defines
        report = s.extra["attempts"][0]["report"]
        assert report["verdict"] == "pass" and report["missing_count"] == 0
        assert report["expected"] == report["passed"] == len(known[tid].expected_tests())
        assert report["failed"] == 0
        assert s.extra["driver_undumpable"] is True
    # Java runs offline on the image's JUnit runner (no Gradle download)
    assert by_id["java/leap"].extra["attempts"][0]["report"]["runner"] == "JUnit Platform"
    assert any("Leap.java" in str(b["messages"]) for b in seen)
    assert run.metrics is not None
    aider = run.metrics["aider"]
    assert aider["per_language"]["python"]["pass_rate_1"]["rate"] == 1.0
    assert aider["per_language"]["java"]["pass_rate_1"]["rate"] == 1.0
    assert aider["overall"]["pass_rate_1"]["passed"] == 5 and aider["overall"]["n"] == 5
    assert aider["overall"]["well_formed"] == 1.0


def test_wrong_edit_gets_the_real_test_output_and_passes_on_attempt_two(
        tmp_path: Path, aider_ready: str, polyglot_fixtures: Path) -> None:
    known = exercises(polyglot_fixtures)
    asked: list[str] = []

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        ex = which_exercise(body, known)
        prompt = last_user(body)
        asked.append(prompt)
        files = ex.example_solution() if SECOND_ATTEMPT in prompt else WRONG[ex.language]
        return {"content": whole_edit(ex, files)}

    status, run, db = run_fake(tmp_path, ["python/leap"], fake_endpoint(answer))
    assert status == "succeeded", run.error
    (s,) = q.all_samples(db, run.id)
    assert s.verdict == "pass" and s.extra is not None, s.detail
    assert s.extra["tests_outcomes"] == [False, True] and s.extra["passed_on"] == 2
    first, second = s.extra["attempts"]
    assert not first["passed"] and second["passed"]
    # attempt 2's prompt is pytest's real output for the wrong code, then Aider's words
    assert len(asked) == 2 and "test_year_divisible_by_100_not_by_400" in asked[1]
    assert "AssertionError" in asked[1] and "Fix the code in leap.py to resolve the errors." in asked[1]
    assert "test_year_divisible_by_100_not_by_400" in first["test_output"]
    aider = run.metrics["aider"] if run.metrics else {}
    assert aider["overall"]["pass_rate_1"]["rate"] == 0.0
    assert aider["overall"]["pass_rate_2"]["rate"] == 1.0
    assert aider["overall"]["debugging_gain"] == 1.0


def test_solutions_that_exit_0_or_forge_the_result_fail_with_the_reports_reason(
        tmp_path: Path, aider_ready: str, polyglot_fixtures: Path) -> None:
    known = exercises(polyglot_fixtures)

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        ex = which_exercise(body, known)
        return {"content": whole_edit(ex, HOSTILE[ex.language])}

    ids = ["cpp/leap", "go/leap", "python/leap", "rust/leap"]
    status, run, db = run_fake(tmp_path, ids, fake_endpoint(answer), run_id="aider-hostile")
    assert status == "succeeded", run.error
    by_id = {s.task_id: s for s in q.all_samples(db, run.id)}
    reasons = {
        "cpp/leap": "Catch2 wrote no report (no report file was written; the test command exited 0)",
        "go/leap": "go test's report is incomplete: the tests never returned to benchdock's TestMain",
        "python/leap": "1 test(s) failed or errored: leap_test",
        "rust/leap": "cargo test's report is incomplete: tests/leap.rs ended without its test result",
    }
    for tid, reason in reasons.items():
        s = by_id[tid]
        assert s.verdict == "fail" and s.extra is not None, (tid, s.verdict, s.detail)
        assert s.extra["tests_outcomes"] == [False, False]
        assert s.extra["driver_undumpable"] is True
        for attempt in s.extra["attempts"]:
            assert attempt["report"]["verdict"] == "fail"
            assert reason in attempt["report"]["reason"], (tid, attempt["report"])
        assert reason in (s.detail or "")
    # the test process could not even list the driver's descriptors (PID 1, non-dumpable):
    # no forged line reached the protocol, so the sample is a fail and not a crash
    output = by_id["python/leap"].extra["attempts"][0]["test_output"]  # type: ignore[index]
    assert "FORGERY 1:PermissionError" in output, output[-2000:]
    assert "written" not in output.split("FORGERY")[1].splitlines()[0]


def test_edits_that_never_apply_are_malformed_and_fail(
        tmp_path: Path, aider_ready: str, polyglot_fixtures: Path) -> None:
    bad = ("leap.py\n```python\n<<<<<<< SEARCH\nthis line is not in the file\n=======\n"
           "def leap_year(year):\n    return True\n>>>>>>> REPLACE\n```\n")
    status, run, db = run_fake(tmp_path, ["python/leap"],
                               fake_endpoint(lambda body: {"content": bad}), mode="diff")
    assert status == "succeeded", run.error
    (s,) = q.all_samples(db, run.id)
    assert s.verdict == "fail" and s.extra is not None
    assert s.extra["edit_format"] == "diff"
    assert s.extra["num_malformed_responses"] >= 2  # at least one per attempt
    assert s.extra["tests_outcomes"] == [False, False]
    assert s.detail is not None and "malformed" in s.detail
    assert run.metrics is not None and run.metrics["aider"]["overall"]["well_formed"] == 0.0


def test_cancel_removes_the_exercise_containers_and_resume_finishes(
        tmp_path: Path, aider_ready: str, polyglot_fixtures: Path) -> None:
    known = exercises(polyglot_fixtures)
    slow = {"on": True}

    async def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if slow["on"]:  # a model that takes its time: the run is cancelled meanwhile
            await anyio.sleep(300)
        ex = which_exercise(body, known)
        return httpx.Response(200, json={
            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": whole_edit(ex, ex.example_solution())}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5}})

    transport = httpx.MockTransport(handler)
    settings, db, run = make_run(tmp_path, ["go/leap", "python/leap"], run_id="aider-cancel")

    def ours() -> list[Any]:  # this process's containers only: others may share the engine
        return owned_containers(os.getpid())

    def cancel_when_both_containers_run() -> None:
        deadline = time.monotonic() + 120
        while len(ours()) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)  # aider is up and waiting for the model
        q.request_cancel(db, run.id)

    watcher = threading.Thread(target=cancel_when_both_containers_run)
    watcher.start()
    t0 = time.monotonic()
    status = anyio.run(RunExecutor(settings, db, run, transport).execute)
    watcher.join()
    assert status == "cancelled" and time.monotonic() - t0 < 150  # not the model's 300 s
    assert all(s.verdict is None for s in q.all_samples(db, run.id))  # nothing half-scored
    assert ours() == []  # the exercises' containers went with the run

    slow["on"] = False
    q.heartbeat(db, run.id, status="running", cancel_requested=False)
    again = q.get_run(db, run.id)
    assert again is not None
    status = anyio.run(RunExecutor(settings, db, again, transport).execute)
    assert status == "succeeded"
    assert sorted(s.verdict or "" for s in q.all_samples(db, run.id)) == ["pass", "pass"]


def test_local_sandbox_runs_aider_under_bubblewrap(
        tmp_path: Path, aider_ready: str, polyglot_fixtures: Path) -> None:
    """BENCHDOCK_SANDBOX=local: aider and the tests run under bubblewrap (no network but
    the proxy's socket, a private /tmp, the toolchains bound back read-only), and verdicts
    are the runner's reports as in Docker; a language whose toolchain this host lacks is a
    per-sample verdict."""
    import shutil

    from benchdock.harnesses.benchmarks.aider.exercises import LANGUAGES
    from benchdock.harnesses.sandbox import local as local_backend

    ok, why = local_backend.bwrap_status()
    if not ok:
        if os.environ.get("BENCHDOCK_REQUIRE_BWRAP") in ("1", "true", "yes"):
            raise AssertionError(f"BENCHDOCK_REQUIRE_BWRAP=1 but bubblewrap is unusable: {why}")
        import pytest

        pytest.skip(why)
    known = exercises(polyglot_fixtures)

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        ex = which_exercise(body, known)
        return {"content": whole_edit(ex, ex.example_solution())}

    ids = ["python/leap", "rust/leap", "cpp/leap"]
    status, run, db = run_fake(tmp_path, ids, fake_endpoint(answer, []), sandbox="local",
                               run_id="aider-local")
    assert status == "succeeded", run.error
    assert run.sandbox_used == "local" and "bubblewrap" in (run.isolation or "")
    for s in q.all_samples(db, run.id):
        lang = s.task_id.split("/")[0]
        tools = [t for t in LANGUAGES[lang].tools if not t.startswith("/")]
        if all(shutil.which(t) for t in tools):
            assert s.verdict == "pass", (s.task_id, s.detail)
        else:
            assert s.verdict == "error" and "toolchain missing" in (s.detail or ""), s.detail
    assert not list(Path("/tmp").glob("bdaider-*"))  # nothing left on the host
