"""One test run of a polyglot exercise, judged by the test runner's own report.

Standard library only: the session inlines this module into the driver, which runs with
aider's interpreter in the exercise's container. A run passes only when all of these hold:
the runner's structured report exists and is complete, it lists every test the exercise's
test files define (read statically by `testnames.py`, sent in as `expected`) as run and
passed, nothing in it failed, errored or was skipped, and the test command exited 0. The
exit status alone proves nothing (a solution can exit 0 at import), nor does the text
output (a solution can print a summary line).

Where the report comes from, per runner (`Language.report`):
- pytest: JUnit XML written at session end to a fresh, randomly named directory outside the
  exercise (`--junitxml`), with conftest files, ini files and plugin auto-loading disabled;
- Catch2 (cpp): the built test binary run once more with `--reporter junit --out <file>`
  after `make` (whose own run of the tests is the output the model sees);
- go test: `go test -json` events (a pass event per top-level test, and the package's), and
  the word of a TestMain benchdock adds to the test package that m.Run returned, written to
  the report directory (which lines printed at init cannot give);
- cargo test (libtest): each test binary's `test <name> ... ok` lines under its
  `Running tests/<file>.rs` header and its `test result:` line, cross-checked against
  libtest's `--logfile`, written into a FIFO the driver reads, so printed lines alone
  cannot make a test pass;
- Java: the JUnit XML report of the JUnit Platform console launcher, which the image's
  runner (in place of Gradle) writes into the report directory; JavaScript: jest's
  `--json --outputFile`.

The runners run the tests in the same process as the solution (pytest imports it, the
others link it): a solution written to rewrite its runner's report from inside that process
(patch pytest's JUnit writer, write the report file or log FIFO whose path is in its own
argv, write the TestMain marker whose path is in the test binary) is a risk these checks do
not remove. What fails: an exit with status 0 at start or inside a test, a printed summary
or printed per-test lines, a report file at a guessable path, skipped tests. Before each run the exercise's original
files are restored, files the model added that could steer the runner are removed, and
every process the run left behind is killed afterwards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

OUTPUT_LIMIT = 8 << 20  # bytes of each stream kept while reading; the rest is counted, dropped
SHOWN = 10  # names listed per category in a report summary
RUNNERS = {"pytest-junit": "pytest", "catch2-junit": "Catch2", "go-json": "go test",
           "libtest": "cargo test", "gradle-junit": "Gradle", "junit-platform": "JUnit Platform",
           "jest-json": "jest"}
OK, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass
class Report:
    """What a runner said about the tests it ran: `tests` maps each test id to its outcome."""

    found: bool = False
    complete: bool = False
    problem: str = ""
    tests: dict[str, str] = field(default_factory=dict)

    def add(self, test_id: str, outcome: str) -> None:
        worst = [FAILED, SKIPPED, OK]  # a test reported twice keeps its worse outcome
        old = self.tests.get(test_id, OK)
        self.tests[test_id] = min(old, outcome, key=worst.index)


@dataclass
class Run:
    exit_code: int | None
    timed_out: bool
    stdout: str
    stderr: str
    side: str = ""  # what the libtest FIFO received


# --- workspace hygiene ---------------------------------------------------------------------

_STDLIB = set(getattr(sys, "stdlib_module_names", ()))
_PY_RESERVED = {"conftest", "sitecustomize", "usercustomize", "__init__", "setup", "pytest",
                "_pytest", "py", "pluggy", "iniconfig", "packaging", "attr", "attrs"}


def may_add(language: str, rel: str) -> bool:
    """Whether a file the model created may stay: source files of the language, never a
    test, a build or runner configuration, or a module shadowing the runner's own."""
    path = Path(rel)
    if any(part.startswith(".") for part in path.parts):
        return False
    stem, suffix = path.stem, path.suffix
    if language == "python":
        return (suffix == ".py" and len(path.parts) == 1 and stem not in _STDLIB
                and stem not in _PY_RESERVED and not stem.startswith("test_")
                and not stem.endswith("_test"))
    if language == "go":
        return suffix == ".go" and len(path.parts) == 1 and not stem.endswith("_test")
    if language == "rust":
        return suffix == ".rs" and path.parts[0] == "src"
    if language == "cpp":
        return (suffix in (".h", ".hpp", ".cpp", ".cc") and len(path.parts) == 1
                and not stem.endswith("_test"))
    if language == "java":
        return suffix == ".java" and rel.startswith("src/main/java/")
    if language == "javascript":
        return suffix == ".js" and len(path.parts) == 1 and ".spec" not in stem \
            and not stem.endswith(".config")
    return False


def restore(root: Path, language: str, originals: dict[str, bytes],
            solution: list[str]) -> list[str]:
    """Every original file but the solution's back as it was; added files that may not stay
    removed (returned). The exercise's tests, data, manifests and build files are thereby
    exactly the benchmark's at every run, as are any the model rewrote. Symbolic links (which
    only a test run can have made) are removed, never followed."""
    removed: list[str] = []
    keep = set(originals) | set(solution)
    for top, dirs, files in os.walk(root, topdown=False):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
            path = Path(top, name)
            rel = path.relative_to(root).as_posix()
            if rel.startswith(".aider") and not path.is_symlink():
                continue
            if path.is_symlink() or (rel not in keep and not may_add(language, rel)):
                path.unlink()
                removed.append(rel)
        for name in dirs:
            path = Path(top, name)
            rel = path.relative_to(root).as_posix()
            if path.is_dir() and not path.is_symlink() and not any(path.iterdir()) and not any(
                    k.startswith(rel + "/") for k in keep):
                path.rmdir()
    for rel, data in originals.items():
        if rel in solution:
            continue
        dst = root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_dir():
            shutil.rmtree(dst)
        if not dst.is_file() or dst.read_bytes() != data:
            dst.write_bytes(data)
        if dst.name == "gradlew" or dst.suffix == ".sh":
            dst.chmod(0o755)
    return sorted(removed)


def prepare_tests(root: Path, language: str, tests: list[str]) -> None:
    """Aider's benchmark runs the skipped tests too: xtest -> test (JavaScript), @Disabled
    removed (Java); Rust's run with --include-ignored, C++'s with EXERCISM_RUN_ALL_TESTS."""
    for rel in tests:
        path = root / rel
        if not path.is_file() or language not in ("javascript", "java"):
            continue
        text = path.read_text()
        if language == "javascript":
            text = re.sub(r"\bxtest\(", "test(", text)
        else:
            text = re.sub(r"@Disabled\([^)]*\)\s*\n", "", text)
        path.write_text(text)


GO_MAIN = """package {package}

import (
\t"fmt"
\t"os"
\t"testing"
)

// Written by benchdock before each run: the report says the tests ran to their end only if
// m.Run returned, which an exit or a crash before or during the tests never does.
func TestMain(m *testing.M) {{
\tcode := m.Run()
\tif f, err := os.OpenFile({path}, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {{
\t\tfmt.Fprintf(f, "m.Run returned %d\\n", code)
\t\tf.Close()
\t}}
\tos.Exit(code)
}}
"""


def add_go_main(root: Path, originals: dict[str, bytes], done: Path) -> bool:
    """benchdock's TestMain in the exercise's test package (unless its tests have their
    own): whether it was added."""
    package = None
    for rel, data in sorted(originals.items()):
        if "/" in rel or not rel.endswith("_test.go"):
            continue
        text = data.decode("utf-8", "replace")
        if re.search(r"^func\s+TestMain\s*\(", text, re.MULTILINE):
            return False
        m = re.search(r"^package\s+(\w+)", text, re.MULTILINE)
        package = package or (m.group(1) if m else None)
    if package is None:
        return False
    source = GO_MAIN.format(package=package, path=json.dumps(str(done)))
    (root / "zz_benchdock_main_test.go").write_text(source)
    return True


def scrub_ancestors(root: Path, workdir: Path) -> None:
    """cargo reads `.cargo/config.toml` in every ancestor of the exercise, so a test run
    could leave one that fakes the next run (a `runner`): none but ours count. Outside the
    container only the driver's own work directory is touched."""
    in_container = os.getpid() == 1
    for d in (root, *root.parents):
        if not in_container and not d.is_relative_to(workdir):
            break
        if (d / ".cargo").exists() and os.access(d, os.W_OK):
            shutil.rmtree(d / ".cargo", ignore_errors=True)


# --- running -------------------------------------------------------------------------------

def _drain(stream: IO[bytes], sink: list[bytes], limit: int = OUTPUT_LIMIT) -> None:
    """Read to EOF, keeping at most `limit` bytes: a flood costs time, never memory."""
    kept = 0
    while chunk := stream.read(65536):
        if kept < limit:
            sink.append(chunk[: limit - kept])
        kept += len(chunk)
    if kept > limit:
        sink.append(f"\n[... {kept - limit} more bytes of output dropped]\n".encode())


def kill_strays(pgid: int) -> None:
    """What the run left: its process group; in the container (where the driver is PID 1
    and every other process descends from a test run) every other process too."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
    if os.getpid() != 1:
        return
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != 1:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


def execute(argv: list[str], cwd: Path, env: dict[str, str], timeout: float,
            merge: bool) -> Run:
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT if merge else subprocess.PIPE,
                            start_new_session=True, close_fds=True)
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [threading.Thread(target=_drain, args=(proc.stdout, out), daemon=True)]
    if not merge:
        readers.append(threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True))
    for t in readers:
        t.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    kill_strays(proc.pid)  # also closes pipes a daemonised child still held
    proc.wait()
    for t in readers:
        t.join(timeout=10)
    text = b"".join(out).decode("utf-8", "replace")
    return Run(None if timed_out else proc.returncode, timed_out, text,
               b"".join(err).decode("utf-8", "replace"))


class FifoLog:
    """A FIFO for libtest's --logfile. Each test binary opens it with truncation and writes
    its results; a FIFO keeps all of them (a file would keep the last binary's only). The
    driver holds it open read-write, so writers never block on open and EOF never comes
    early; `close` ends the reader with a line only the driver knows."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path, 0o600)
        self.fd = os.open(path, os.O_RDWR)
        self.end = f"benchdock-end-{os.urandom(8).hex()}\n".encode()
        self.chunks: list[bytes] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        kept = 0
        tail = b""
        while True:
            chunk = os.read(self.fd, 65536)
            if kept < OUTPUT_LIMIT:
                self.chunks.append(chunk[: OUTPUT_LIMIT - kept])
            kept += len(chunk)
            tail = (tail + chunk)[-len(self.end):]
            if not chunk or tail == self.end:
                break

    def close(self) -> str:
        os.write(self.fd, self.end)
        self.thread.join(timeout=10)
        os.close(self.fd)
        return b"".join(self.chunks).removesuffix(self.end).decode("utf-8", "replace")


# --- reading the reports -------------------------------------------------------------------

def _junit_files(report_dir: Path, pattern: str) -> list[Path]:
    return sorted(p for p in report_dir.glob(pattern) if p.is_file())


def read_junit(files: list[Path], language: str) -> Report:
    """JUnit XML (pytest, Catch2, Gradle/JUnit 5): each `testcase` with a failure, error or
    skipped child counts as such; every file must parse and hold a testsuite."""
    rep = Report(found=bool(files), complete=bool(files))
    if not files:
        rep.problem = "no report file was written"
    for path in files:
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError) as exc:
            rep.complete = False
            rep.problem = f"{path.name} is not a whole XML report ({exc})"
            continue
        if root.tag not in ("testsuites", "testsuite"):
            rep.complete = False
            rep.problem = f"{path.name} holds no testsuite"
        for case in root.iter("testcase"):
            cls, name = case.get("classname", ""), case.get("name", "")
            if language == "python":
                test_id = f"{cls}.{name}" if cls else name
            elif language == "java":
                test_id = f"{re.split(r'[.$]', cls)[-1]}.{name.split('(')[0]}"
            else:
                test_id = name
            kinds = {child.tag for child in case}
            outcome = FAILED if kinds & {"failure", "error"} else SKIPPED if "skipped" in kinds else OK
            rep.add(test_id, outcome)
    return rep


def read_go(stdout: str, done: Path | None) -> Report:
    """`go test -json`: top-level tests' pass/fail/skip events and each package's final
    event; with benchdock's TestMain, also its word that m.Run returned (which printed
    lines cannot give)."""
    rep = Report(found=False)
    for line in stdout.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if not isinstance(ev, dict):
            continue
        rep.found = True
        action, test = ev.get("Action"), ev.get("Test")
        if action not in ("pass", "fail", "skip"):
            continue
        if not test:
            rep.complete = True
            if action == "fail":
                rep.problem = f"package {ev.get('Package')} failed"
        elif "/" not in test:
            rep.add(test, {"pass": OK, "fail": FAILED, "skip": SKIPPED}[action])
    if not rep.found:
        rep.problem = "go test printed no events"
    elif not rep.complete:
        rep.problem = "no package result: the test binary did not finish"
    elif done is not None and not done.is_file():
        rep.complete = False
        rep.problem = "the tests never returned to benchdock's TestMain (an exit before or during them)"
    return rep


# libtest prints a test's mode after its name (`- should panic`, doc-tests' `- compile fail`)
_LIBTEST_LINE = re.compile(r"^test (.+?)(?: - (?:should panic|compile fail|compile|run))? "
                           r"\.\.\. (ok|FAILED|ignored)\s*$")
_LIBTEST_SUMMARY = re.compile(r"^test result: (ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored")


def read_libtest(stdout: str, logfile: str) -> Report:
    """cargo test's per-binary sections, each needing its `test result:` line, with every
    passing test also in libtest's log (which printed lines cannot reach)."""
    rep = Report(found=False, complete=True)
    logged = {}
    for line in logfile.splitlines():
        word, _, name = line.partition(" ")
        logged[name] = word
    section: str | None = None
    summarised = True
    unlogged: list[str] = []
    for line in stdout.splitlines():
        s = line.strip()
        m = re.match(r"^Running (?:unittests )?(\S+)", s)
        if m or s.startswith("Doc-tests "):
            if section is not None and not summarised:
                rep.complete, rep.problem = False, f"{section} ended without its test result"
            section, summarised = (m.group(1) if m else "doc-tests"), False
            rep.found = True
            continue
        if section is None:
            continue
        m = _LIBTEST_LINE.match(s)
        if m:
            name, word = m.groups()
            outcome = {"ok": OK, "FAILED": FAILED, "ignored": SKIPPED}[word]
            if outcome == OK and logged.get(name) != "ok":
                unlogged.append(name)
                continue
            rep.add(f"{section}::{name}", outcome)
        elif _LIBTEST_SUMMARY.match(s):
            summarised = True
    if section is not None and not summarised:
        rep.complete, rep.problem = False, f"{section} ended without its test result"
    if not rep.found:
        rep.complete, rep.problem = False, "cargo ran no test binary"
    elif unlogged:
        rep.complete = False
        rep.problem = (f"{_names(unlogged)} said 'ok' on stdout but are not in libtest's log "
                       "(printed, not run)")
    return rep


def read_jest(path: Path) -> Report:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return Report(problem=f"no readable jest report ({exc})")
    rep = Report(found=True, complete=isinstance(data, dict) and "testResults" in data)
    for suite in data.get("testResults", []) if isinstance(data, dict) else []:
        for a in suite.get("assertionResults", []):
            status = a.get("status")
            rep.add(str(a.get("fullName")), OK if status == "passed" else
                    SKIPPED if status in ("pending", "skipped", "todo", "disabled") else FAILED)
    return rep


def read_report(kind: str, language: str, run: Run, report_dir: Path, root: Path,
                go_main: bool = False) -> Report:
    if kind == "pytest-junit":
        return read_junit(_junit_files(report_dir, "pytest.xml"), language)
    if kind == "catch2-junit":
        return read_junit(_junit_files(report_dir, "catch2.xml"), language)
    if kind == "junit-platform":  # the image's Java runner (image/benchdock-java-test)
        return read_junit(_junit_files(report_dir, "TEST-*.xml"), language)
    if kind == "gradle-junit":
        return read_junit(_junit_files(root / "build" / "test-results" / "test", "TEST-*.xml"),
                          language)
    if kind == "go-json":
        return read_go(run.stdout, report_dir / "go-done" if go_main else None)
    if kind == "libtest":
        return read_libtest(run.stdout, run.side)
    if kind == "jest-json":
        return read_jest(report_dir / "jest.json")
    raise ValueError(f"unknown report kind {kind!r}")


# --- judging -------------------------------------------------------------------------------

def _outcome_of(test_id: str, rep: Report) -> str | None:
    """A test's outcome; Catch2 reports a TEST_CASE with SECTIONs as `name/section` entries,
    so those count for `name` (all must pass)."""
    if test_id in rep.tests:
        return rep.tests[test_id]
    parts = [o for k, o in rep.tests.items() if k.startswith(test_id + "/")]
    if not parts:
        return None
    return FAILED if FAILED in parts else SKIPPED if SKIPPED in parts else OK


def _names(names: list[str], total: int | None = None) -> str:
    shown = ", ".join(names[:SHOWN])
    more = (total or len(names)) - min(len(names), SHOWN)
    return shown + (f" and {more} more" if more > 0 else "")


def judge(kind: str, expected: list[str], rep: Report, run: Run,
          timeout_s: float) -> dict[str, Any]:
    runner = RUNNERS.get(kind, kind)
    outcomes = {t: _outcome_of(t, rep) for t in expected}
    missing = [t for t, o in outcomes.items() if o is None]
    failed = [t for t, o in rep.tests.items() if o == FAILED]
    skipped = [t for t, o in outcomes.items() if o == SKIPPED]
    summary: dict[str, Any] = {
        "runner": runner, "report_found": rep.found, "report_complete": rep.complete,
        "expected": len(expected), "ran": len(rep.tests),
        "passed": sum(1 for o in rep.tests.values() if o == OK), "failed": len(failed),
        "skipped": sum(1 for o in rep.tests.values() if o == SKIPPED),
        "missing": missing[:SHOWN], "missing_count": len(missing),
        "failed_tests": failed[:SHOWN], "exit_code": run.exit_code, "timed_out": run.timed_out,
    }
    if run.timed_out:
        reason = f"the tests did not finish within {timeout_s:.0f}s"
    elif not expected:
        reason = "the exercise's test files define no tests, so nothing can be judged"
    elif not rep.found:
        reason = f"{runner} wrote no report ({rep.problem}; the test command exited {run.exit_code})"
    elif failed:  # said first even when the run was then cut short: it is the news
        reason = f"{len(failed)} test(s) failed or errored: {_names(failed)}"
    elif not rep.complete:
        reason = f"{runner}'s report is incomplete: {rep.problem}"
    elif not rep.tests:
        reason = f"{runner} reported no tests" + (f" ({rep.problem})" if rep.problem else "")
    elif skipped:
        reason = f"{len(skipped)} test(s) skipped: {_names(skipped)}"
    elif missing:
        one = "is" if len(missing) == 1 else "are"
        reason = (f"{_names(missing)} {one} not in {runner}'s report "
                  f"({len(missing)} of the exercise's {len(expected)} tests missing)")
    elif run.exit_code != 0:
        reason = (f"the test command exited {run.exit_code} although {runner}'s report "
                  "shows every test passed")
    else:
        reason = None
    summary["verdict"] = "fail" if reason else "pass"
    summary["reason"] = reason
    return summary


# --- one run -------------------------------------------------------------------------------

def _model_view(kind: str, run: Run, run_dir: Path, root: Path) -> str:
    """The output aider's next prompt shows, as close to the plain command's as the report
    flags allow: go's events turned back into text without the per-test RUN/PASS lines,
    pytest's note about its XML file dropped, private paths shortened."""
    text = run.stdout
    if kind == "go-json":
        lines = []
        for line in run.stdout.splitlines(keepends=True):
            try:
                ev = json.loads(line)
                piece = str(ev.get("Output", "")) if isinstance(ev, dict) else line
            except ValueError:
                piece = line
            if not re.match(r"^\s*(=== (RUN|PAUSE|CONT)|--- PASS: )", piece):
                lines.append(piece)
        text = run.stderr + "".join(lines)
    elif kind == "pytest-junit":
        text = re.sub(r"^-* generated xml file: .*$\n?", "", text, flags=re.MULTILINE)
    text = re.sub(r"\bin \d+\.\d+s\b", "", text)  # timing would vary the prompt
    return text.replace(str(run_dir) + "/", "").replace(str(root), root.name)


def run_tests(root: Path, cfg: dict[str, Any], originals: dict[str, bytes]) -> tuple[bool, str, dict[str, Any]]:
    """(passed, output for the model, the report's summary for the evidence)."""
    language, kind = cfg["language"], cfg["report"]
    removed = restore(root, language, originals, cfg["solution"])
    prepare_tests(root, language, cfg["tests"])
    scrub_ancestors(root, Path(cfg["workdir"]))
    for old in root.parent.glob(".bdrun-*"):
        shutil.rmtree(old, ignore_errors=True)
    run_dir = Path(tempfile.mkdtemp(prefix=".bdrun-", dir=root.parent))
    report_dir = run_dir / "report"
    report_dir.mkdir()
    build = run_dir / ("target" if language == "rust" else "build")
    slots = {"build": str(build), "report": str(report_dir), "name": root.name}
    argv = [a.format(**slots) for a in cfg["test_command"]]
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_LIBRARY_PATH", "PYTHONPATH", "PYTHONHOME", "OPENAI_API_BASE",
                        "BENCHDOCK_AIDER_SITE")}
    env.update({k: v.format(**slots) for k, v in cfg.get("test_env", {}).items()})
    fifo = FifoLog(report_dir / "libtest.log") if kind == "libtest" else None
    go_main = kind == "go-json" and add_go_main(root, originals, report_dir / "go-done")
    try:
        run = execute(argv, root, env, float(cfg["test_timeout_s"]), merge=kind != "go-json")
    finally:
        side = fifo.close() if fifo else ""
    run.side = side
    rep = read_report(kind, language, run, report_dir, root, go_main)
    summary = judge(kind, list(cfg["expected_tests"]), rep, run, float(cfg["test_timeout_s"]))
    if removed:
        summary["removed_files"] = removed
    output = "Tests timed out!" if run.timed_out else _model_view(kind, run, run_dir, root)
    shutil.rmtree(run_dir, ignore_errors=True)
    return summary["verdict"] == "pass", output, summary
