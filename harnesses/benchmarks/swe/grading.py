"""Grading a patch the way SWE-bench does, on a log benchdock produces.

benchdock runs the tests itself, in a fresh network-less container of the instance's image
(not swebench's container code, which pulls images and adds capabilities): the model's
patch applied to the instance's repository, the test files restored to the base commit (a
patch may not change the tests that judge it), the instance's test_patch applied, then
pytest with `-rA` between SWE-bench's log markers. The verdict is swebench 5.0.2's own
`get_eval_report` (`get_logs_eval` with `parse_log_pytest`), run in the `swe` venv
(drivers/grade.py). `own_report` is benchdock's reading of the same log, kept beside it in
the evidence as a cross-check (tests/harnesses/benchmarks/swe/test_swe_grading.py feeds recorded logs to both).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from benchdock.harnesses.benchmarks.swe.container import InstanceContainer

START, END = ">>>>> Start Test Output", ">>>>> End Test Output"
APPLY_FAIL, EXIT_CODE = ">>>>> Patch Apply Failed", ">>>>> Test Exit Code"
BAD = (APPLY_FAIL, ">>>>> Reset Failed", ">>>>> Tests Errored", ">>>>> Tests Timed Out")
STATUSES = ("FAILED", "PASSED", "SKIPPED", "ERROR", "XFAIL")
TEST_TIMEOUT_S = 300
# files anywhere in the tree that configure or extend pytest
RUNNER_FILES = (r"(^|/)(conftest\.py|pytest\.ini|\.pytest\.ini|tox\.ini|setup\.cfg|"
                r"pyproject\.toml|sitecustomize\.py|usercustomize\.py|[^/]*\.pth)$")
# top-level names a new file or folder must not take: pytest and what it imports, and the
# standard library's pure-Python modules
SHADOW_NAMES = ("pytest", "_pytest", "py", "pluggy", "iniconfig", "packaging", "exceptiongroup",
                "tomli", "pygments", *sorted(n for n in sys.stdlib_module_names
                                              if not n.startswith("_") or n == "__future__"))
PYTEST = ("import os, sys, pytest\n"
          "rc = pytest.main(['-p', 'no:cacheprovider', '-rA', '--tb=short', '-q'])\n"
          "sys.stdout.flush(); sys.stderr.flush(); os._exit(int(rc))\n")
# every process but the container's init, this shell and its parent (the exec's `timeout`)
KILL_OTHERS = ("for p in /proc/[0-9]*; do p=${p#/proc/}; case $p in 1|$$|$PPID) ;; *) "
               "kill -KILL $p 2>/dev/null;; esac; done; true")
SHADOWS = "^(" + "|".join(re.escape(n) for n in SHADOW_NAMES) + r")(\.py|\.pyc|\.[^/]*so|/)?$"
LOG_KEPT = 20_000  # characters of the test log kept in a sample's evidence


def eval_script(test_dirs: tuple[str, ...], has_model_patch: bool, has_test_patch: bool) -> str:
    """The test run, as SWE-bench's eval scripts do it (markers, exit code) for a pytest
    project. The patches arrive in /tmp through stdin before this runs."""
    dirs = " ".join(shlex.quote(d) for d in test_dirs)
    lines = ["cd /testbed", "git status --porcelain >/dev/null"]
    if has_model_patch:
        lines.append(f"git apply --whitespace=nowarn /tmp/.model.patch || {{ echo '{APPLY_FAIL}'; "
                     "exit 0; }")
    # the tests that judge the patch are the base commit's, and so is everything that steers
    # pytest: tracked conftest.py and configuration files go back to the base commit, new ones
    # go, and so do new top-level modules that would be imported instead of pytest, its
    # plugins or the standard library (`python -m pytest` puts /testbed first on sys.path)
    lines += [f"git checkout -q HEAD -- {dirs}", f"git clean -fdq -- {dirs}",
              f"git ls-files -z | grep -zE '{RUNNER_FILES}' | xargs -0r git checkout -q HEAD --",
              f"git ls-files -z --others | grep -zE '{RUNNER_FILES}' | xargs -0r rm -rf --",
              f"git ls-files -z --others --directory | grep -zE '{SHADOWS}' | xargs -0r rm -rf --"]
    if has_test_patch:
        lines.append(f"git apply --whitespace=nowarn /tmp/.test.patch || {{ echo '{APPLY_FAIL}';"
                     " exit 0; }")
    # pytest's report is the verdict's input, so only pytest may write it: the code under
    # test runs in the same process, so the run ends with os._exit right after pytest's
    # summary (no atexit handler, finalizer or thread of the patch's prints after it), its
    # output goes to a file, and every process the run left behind is killed before the file
    # is read (a forked child could print fake PASSED lines later)
    lines += ["python3 -c " + shlex.quote(PYTEST) + " > /tmp/.pytest.out 2>&1",
              "code=$?", KILL_OTHERS, f"echo '{START}'", "cat /tmp/.pytest.out",
              f"echo '{EXIT_CODE}: '$code", f"echo '{END}'"]
    return "\n".join(lines) + "\n"


# what a fix of a project's source has no need of and a patch that forges its verdict does:
# the test runner, the interpreter's import and exit machinery, the process' output
# descriptors, other processes, frames and the garbage collector's view of live objects
REACH = re.compile(
    r"\b(_?pytest|pluggy|conftest|sys\.modules|sys\.meta_path|sys\.path_hooks|"
    r"__builtins__|builtins|atexit|os\._exit|sys\.settrace|sys\.setprofile|sys\._getframe|"
    r"inspect\.stack|gc\.get_objects|gc\.get_referrers|sys\.(?:__)?std(?:out|err)|"
    r"os\.write|os\.dup2?|os\.fork|os\.system|os\.spawn\w*|os\.exec\w*|subprocess|"
    r"multiprocessing|ctypes|PASSED|FAILED)\b|/proc/|/dev/(?:tty|stdout|stderr|fd)")


def runner_reach(patch: str, test_dirs: tuple[str, ...],
                 own: frozenset[str] = frozenset()) -> list[str]:
    """The lines a patch adds outside the test folders that reach for the test runner or
    the interpreter around the code (REACH): benchdock's guard against a patch that forges
    its own verdict from inside the process pytest runs it in (restoring files and ending
    the run with os._exit cannot stop that). Words the project's own sources already use
    (`own`, e.g. tabulate's CLI writes to sys.stdout) do not count, so a fix may restore
    them. A heuristic; kept per instance in the evidence."""
    found: list[str] = []
    path = ""
    for line in patch.splitlines():
        if line.startswith("+++ "):
            path = line[4:].removeprefix("b/").strip()
        elif line.startswith("+") and not any(path.startswith(d.rstrip("/") + "/")
                                              for d in test_dirs) and \
                any(m.group(0) not in own for m in REACH.finditer(line)):
            found.append(f"{path}: {line[1:].strip()[:200]}")
    return found


def own_words(sdist: Path, top: str, sources: tuple[str, ...]) -> frozenset[str]:
    """The REACH words the project's bug-injectable sources (in its sdist) already use."""
    import tarfile

    words: set[str] = set()
    with tarfile.open(sdist) as tar:
        for rel in sources:
            f = tar.extractfile(f"{top}/{rel}")
            if f is not None:
                words |= {m.group(0) for m in REACH.finditer(f.read().decode("utf-8", "replace"))}
    return frozenset(words)


def run_tests(box: InstanceContainer, test_dirs: tuple[str, ...], model_patch: str | None,
              test_patch: str) -> str:
    """Run the eval script in `box` (a fresh container, prepared); the log."""
    if model_patch:
        box.put("/tmp/.model.patch", model_patch.encode())
    if test_patch:
        box.put("/tmp/.test.patch", test_patch.encode())
    code, out = box.exec(eval_script(test_dirs, bool(model_patch), bool(test_patch)),
                         TEST_TIMEOUT_S)
    if code == 137:
        out += "\n>>>>> Tests Timed Out\n"
    return out


def swebench(python: Path, jobs: list[dict[str, Any]]) -> list[Any]:
    """Run drivers/grade.py's jobs in the swe venv."""
    src = resources.files("benchdock.harnesses.benchmarks.swe.drivers").joinpath("grade.py").read_text()
    done = subprocess.run([str(python), "-c", src], input=json.dumps(jobs), capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"swebench's grading failed: {done.stderr[-2000:]}")
    return list(json.loads(done.stdout))


def parse_pytest(log: str) -> dict[str, str]:
    """benchdock's reading of pytest's -rA summary (what parse_log_pytest reads)."""
    found: dict[str, str] = {}
    for line in log.split("\n"):
        if not line.startswith(STATUSES):
            continue
        if line.startswith("FAILED"):
            line = line.replace(" - ", " ")
        parts = line.split()
        if len(parts) <= 1:
            continue
        if parts[0] == "SKIPPED" and re.match(r"^\[\d+\]$", parts[1]):
            continue
        found[parts[1]] = parts[0]
    return found


def own_report(log: str, f2p: list[str], p2p: list[str], model_patch: str | None) -> dict[str, Any]:
    """benchdock's own F2P/P2P report of a log: resolved when every FAIL_TO_PASS test passed
    (PASSED or XFAIL) and no PASS_TO_PASS test failed, the patch applied and the suite ran."""
    if model_patch is None:
        return {"resolved": False, "patch_successfully_applied": False}
    if any(b in log for b in BAD) or START not in log or END not in log:
        return {"resolved": False, "patch_successfully_applied": False}
    status = parse_pytest(log.split(START, 1)[1].split(END, 1)[0]) or parse_pytest(log)
    exit_m = re.search(rf"{re.escape(EXIT_CODE)}:\s*(-?\d+)", log)
    if not status or (exit_m and int(exit_m.group(1)) != 0 and
                      not any(v in ("FAILED", "ERROR") for v in status.values())):
        return {"resolved": False, "patch_successfully_applied": False}

    def split(tests: list[str], good: tuple[str, ...]) -> dict[str, list[str]]:
        ok = [t for t in tests if status.get(t) in good]
        return {"success": ok, "failure": [t for t in tests if t not in ok]}

    # as SWE-bench: a skipped PASS_TO_PASS test is no regression, a skipped FAIL_TO_PASS
    # test is no resolution
    report = {"FAIL_TO_PASS": split(f2p, ("PASSED", "XFAIL")),
              "PASS_TO_PASS": split(p2p, ("PASSED", "XFAIL", "SKIPPED"))}
    resolved = not report["FAIL_TO_PASS"]["failure"] and not report["PASS_TO_PASS"]["failure"]
    return {"resolved": resolved, "patch_successfully_applied": True, "tests_status": report}
