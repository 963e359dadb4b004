"""benchdock's aider driver: one polyglot exercise, run by aider itself, in the harness
container (or a subprocess for the local sandbox), with aider-chat's own environment.

This file is sent to the container as source and must import nothing from benchdock. It
reads one JSON line on stdin (the exercise's files, the model, the edit format, the
protocol's settings), reproduces the protocol of Aider's polyglot benchmark — attempt 1 with
the instructions, attempt 2 with the failing test output, aider's Coder editing the solution
files in the chosen edit format — and writes JSON lines on stdout: `{"event": ...}` progress,
then one `{"result": ...}` carrying the session's nonce. Everything aider prints goes to
stderr. Each test run is judged by the test runner's own report (`testrun.py`, which the
session inlines below).

The code under test runs as this process's children with the same uid, so the result's
channel is kept out of its reach: this process makes itself non-dumpable before anything
else (its /proc/<pid>/fd, mem and the like then belong to root, so a test process cannot
open the protocol pipe through them), the protocol's file descriptor is never inherited,
and the result carries a nonce that only benchdock and this process know.

The container has no network: aider reaches the model through benchdock's recording proxy,
whose unix socket is mounted in; a small relay gives aider an ordinary http://127.0.0.1 URL
for it.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import re
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchdock.harnesses.benchmarks.aider.drivers.testrun import run_tests  # inlined by the session
from benchdock.harnesses.envs.driver_relay import start_relay  # inlined by the session

# Aider's benchmark prompts (benchmark/prompts.py), which its leaderboard numbers rest on.
INSTRUCTIONS_ADDENDUM = """
####

Use the above instructions to modify the supplied files: {file_list}
Don't change the names of existing functions or classes, as they may be referenced from other code like unit tests, etc.
Only use standard libraries, don't suggest installing any packages.
"""
TEST_FAILURES = """
####

See the testing errors above.
The tests are correct, don't try and change them.
Fix the code in {file_list} to resolve the errors.
"""
LAZY = re.compile(r"^[+]? *[#].* [.][.][.] ", re.MULTILINE)
OUTPUT_CAP = 200_000  # characters of test output kept (the model sees all of it, as upstream)

PROTOCOL = sys.stdout
NONCE = ""
PR_SET_DUMPABLE = 4
UNDUMPABLE = False


def make_undumpable() -> bool:
    """prctl(PR_SET_DUMPABLE, 0): other processes of this uid (the tests) can no longer
    open /proc/<this pid>/fd/*, read its memory or ptrace it. Linux only; elsewhere the
    result says it was not done."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def take_stdout() -> None:
    """Keep the real stdout for our JSON lines on a descriptor no child inherits; whatever
    else writes to fd 1 (aider, rich, child processes) lands on stderr."""
    global PROTOCOL
    fd = os.dup(1)
    os.set_inheritable(fd, False)
    PROTOCOL = os.fdopen(fd, "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr


def emit(**msg: Any) -> None:
    if "result" in msg:
        msg["result"] = {**msg["result"], "undumpable": UNDUMPABLE}
        msg["nonce"] = NONCE
    PROTOCOL.write(json.dumps(msg) + "\n")
    PROTOCOL.flush()


def write_workspace(root: Path, files: dict[str, str]) -> None:
    for rel, b64 in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(b64))
        if path.name in ("gradlew",) or path.suffix == ".sh":
            path.chmod(0o755)


def main() -> None:
    global NONCE
    t_start = time.time()
    cfg = json.loads(sys.stdin.readline())
    NONCE = str(cfg.get("nonce", ""))
    root = Path(cfg["workdir"]) / cfg["name"]
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    write_workspace(root, cfg["files"])
    originals = {rel: base64.b64decode(b64) for rel, b64 in cfg["files"].items()}
    if not cfg["expected_tests"]:  # nothing could tell a right solution from a wrong one
        emit(result={"status": "unjudgeable", "reason": (
            "the exercise's test files define no tests, so no solution can be judged")})
        return
    missing = [t for t in cfg["tools"]
               if (not os.path.exists(t) if t.startswith("/") else shutil.which(t) is None)]
    if missing:
        emit(result={"status": "toolchain_missing", "reason": (
            f"the {cfg['language']} toolchain is missing from this image: "
            f"{', '.join(missing)} not found")})
        return
    port = start_relay(cfg["proxy_socket"])
    os.environ["OPENAI_API_BASE"] = f"http://127.0.0.1:{port}/t/{cfg['tag']}/v1"
    os.environ.setdefault("OPENAI_API_KEY", "unused-benchdock-proxy")

    if os.environ.get("BENCHDOCK_AIDER_SITE"):  # in the container: python -S, venv mounted
        import site

        site.addsitedir(os.environ["BENCHDOCK_AIDER_SITE"])
    from aider.coders import Coder
    from aider.io import InputOutput
    from aider.models import Model

    fnames = [str(root / f) for f in cfg["solution"]]
    file_list = " ".join(Path(f).name for f in fnames)
    instructions = cfg["instructions"] + INSTRUCTIONS_ADDENDUM.format(file_list=file_list)
    io = InputOutput(pretty=False, yes=True, fancy_input=False,
                     chat_history_file=str(root / ".aider.chat.history.md"))
    model = Model(f"openai/{cfg['model']}")
    model.extra_params = {**(model.extra_params or {}), **cfg.get("extra_params", {})}
    edit_format = cfg.get("edit_format") or model.edit_format
    ignore = set(cfg["tests"]) | {"CMakeLists.txt", "Cargo.toml"}
    coder = Coder.create(model, edit_format, io, fnames=fnames, use_git=False, stream=False,
                         suggest_shell_commands=False, ignore_mentions=ignore, auto_lint=False)
    coder.get_file_mentions = lambda _content: set()  # never pull in other files
    startup_s = time.time() - t_start
    emit(event="started", edit_format=edit_format)
    first_test_s = None

    attempts: list[dict[str, Any]] = []
    outcomes: list[bool] = []
    syntax_errors = indentation_errors = timeouts = lazy = 0
    started = time.time()
    for i in range(int(cfg["tries"])):
        t0 = time.time()
        response = coder.run(with_message=instructions, preproc=False) or ""
        gen_s = time.time() - t0
        lazy += len(LAZY.findall(response))
        t1 = time.time()
        first_test_s = first_test_s or t1 - t_start
        passed, output, report = run_tests(root, cfg, originals)
        timed_out = bool(report["timed_out"])
        timeouts += timed_out
        attempts.append({"attempt": i + 1, "response": response, "passed": passed,
                         "test_output": output[-OUTPUT_CAP:], "generate_s": round(gen_s, 3),
                         "test_s": round(time.time() - t1, 3), "timed_out": timed_out,
                         "report": report})
        emit(event="attempt", attempt=i + 1, passed=passed)
        outcomes.append(passed)
        if passed:
            break
        lines = output.splitlines()
        syntax_errors += sum(1 for line in lines if line.startswith("SyntaxError"))
        indentation_errors += sum(1 for line in lines if line.startswith("IndentationError"))
        instructions = output + TEST_FAILURES.format(file_list=file_list)

    final = {f: (root / f).read_text(errors="replace") for f in cfg["solution"]
             if (root / f).is_file()}
    emit(result={
        "status": "done", "edit_format": edit_format, "tests_outcomes": outcomes,
        "attempts": attempts, "duration": round(time.time() - started, 3),
        "num_malformed_responses": coder.num_malformed_responses,
        "num_exhausted_context_windows": coder.num_exhausted_context_windows,
        "num_error_outputs": io.num_error_outputs, "num_user_asks": io.num_user_asks,
        "syntax_errors": syntax_errors, "indentation_errors": indentation_errors,
        "test_timeouts": timeouts, "lazy_comments": lazy, "startup_s": round(startup_s, 3),
        "first_test_s": round(first_test_s or 0.0, 3),
        "prompt_tokens": int(getattr(coder, "total_tokens_sent", 0) or 0),
        "completion_tokens": int(getattr(coder, "total_tokens_received", 0) or 0),
        "final_files": final})


if __name__ == "__main__":
    UNDUMPABLE = make_undumpable()  # first: before the protocol exists
    take_stdout()
    try:
        main()
    except BaseException as exc:  # every failure must reach benchdock as a result
        emit(result={"status": "crashed", "reason": f"{type(exc).__name__}: {exc}",
                     "traceback": traceback.format_exc()[-4000:]})
