"""The polyglot benchmark's exercises: Exercism practice exercises in six languages, laid
out as `<language>/exercises/practice/<name>/` with `.docs/` (the instructions), `.meta/`
(config.json naming the solution, test and example files) and the files themselves.

They come from Aider's public polyglot-benchmark repository at a pinned revision, downloaded
once into BENCHDOCK_HOME; BENCHDOCK_POLYGLOT_DIR points at another tree in the same layout
(a local clone, or the small fixtures the tests use).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import tarfile
from pathlib import Path

import httpx
from pydantic import BaseModel

from benchdock.harnesses.benchmarks.aider.testnames import expected_tests
from benchdock.harnesses.config import Settings
from benchdock.harnesses.contract.benchmark import DatasetUnavailable

log = logging.getLogger("benchdock.aider")

REPO = "Aider-AI/polyglot-benchmark"
REVISION = "7e0611e77b54e2dea774cdc0aa00cf9f7ed6144f"
ARCHIVE_URL = f"https://github.com/{REPO}/archive/{REVISION}.tar.gz"


class Language(BaseModel):
    """How one language's exercises are tested, as Aider's benchmark does it, and where the
    verdict comes from: the runner's own report of each test (see `testrun.py`)."""

    name: str
    count: int  # exercises in the pinned revision
    tools: list[str]  # executables the image must have (checked before the model is asked)
    # run in the exercise directory; {build}, {report} and {name} are filled in per run with
    # a fresh private build directory, a fresh report directory and the exercise's name
    test_command: list[str]
    report: str  # which report the verdict reads (testrun.read_report)
    test_env: dict[str, str] = {}  # on top of the container's, same slots


# Java: Gradle cannot fetch its distribution or JUnit in the network-less container, so the
# image runs the exercises' tests as their build.gradle does, on Debian's JUnit 5 and AssertJ:
# JAVA_TEST (image/benchdock-java-test) compiles with javac into {build} and runs the JUnit
# Platform console launcher, GRADLE_READY (named for what it stands in for), which writes its
# JUnit XML report, TEST-junit-jupiter.xml, into {report}. Exit 3: this image cannot run the
# exercise as Gradle would (a dependency it lacks), whatever the solution.
GRADLE_READY = "/usr/share/java/junit-platform-console-standalone.jar"
JAVA_TEST = "/usr/local/bin/benchdock-java-test"

# JavaScript: jest and the babel preset installed in the image; JS_TEST (image/benchdock-js-
# test) runs `jest ./*` as the exercises' `npm run test` does, with the image's node_modules
# linked in, and writes jest's JSON report into {report}/jest.json.
JEST_READY = "/npm-install/node_modules/.bin/jest"
JS_TEST = "/usr/local/bin/benchdock-js-test"

# Aider's benchmark: pytest; cargo test -- --include-ignored; go test ./...; npm test with a
# pre-installed node_modules and xtest -> test; cmake + make (the CMakeLists runs the tests);
# ./gradlew test with @Disabled removed (here: the same compile-and-test on Debian's JUnit and
# AssertJ, offline, see JAVA_TEST). The source edits (xtest, @Disabled) are made by the
# driver before each test run. Added here: the flags that make each runner write a report of
# every test, and, for C++, EXERCISM_RUN_ALL_TESTS: without it the exercises compile only
# their first TEST_CASE (Aider's cpp-test.sh omits it, so its C++ verdicts rest on one test).
LANGUAGES: dict[str, Language] = {
    "cpp": Language(name="cpp", count=26, tools=["cmake", "make", "g++"], report="catch2-junit",
                    test_command=[
        # make builds and runs the tests (its output is what the model sees); the binary's
        # second run writes the report, whatever make said
        "sh", "-c", "cmake -DEXERCISM_RUN_ALL_TESTS=1 -G 'Unix Makefiles' -S . -B {build} "
        "&& make -C {build}; status=$?; if [ -x {build}/{name} ]; then {build}/{name} "
        "--reporter junit --out {report}/catch2.xml >/dev/null 2>&1; fi; exit $status"]),
    "go": Language(name="go", count=39, tools=["go"], report="go-json",
                   test_command=["go", "test", "-count=1", "-json", "./..."],
                   test_env={"GOWORK": "off", "GOENV": "off"}),
    "java": Language(name="java", count=47, tools=["java", "javac", GRADLE_READY, JAVA_TEST],
                     report="junit-platform", test_command=[JAVA_TEST, "{report}", "{build}"]),
    "javascript": Language(name="javascript", count=49, tools=["node", JEST_READY, JS_TEST],
                           report="jest-json", test_command=[JS_TEST, "{report}"]),
    "python": Language(name="python", count=34, tools=["python3"], report="pytest-junit",
                       test_command=[
        "python3", "-P", "-m", "pytest", "-q", "--noconftest", "-p", "no:cacheprovider",
        "-c", "/dev/null", "--rootdir=.", "--junitxml={report}/pytest.xml"],
                       test_env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}),
    "rust": Language(name="rust", count=30, tools=["cargo"], report="libtest", test_command=[
        "cargo", "test", "--offline", "--", "--include-ignored", "--logfile",
        "{report}/libtest.log"], test_env={"CARGO_TARGET_DIR": "{build}"}),
}


class Exercise(BaseModel):
    language: str
    name: str
    path: Path
    solution: list[str]
    tests: list[str]
    example: list[str]

    @property
    def id(self) -> str:
        return f"{self.language}/{self.name}"

    def instructions(self) -> str:
        """introduction + instructions + instructions.append, as Aider's benchmark joins them."""
        docs = self.path / ".docs"
        parts = [docs / "introduction.md", docs / "instructions.md", docs / "instructions.append.md"]
        return "".join(p.read_text() for p in parts if p.is_file())

    def workspace_files(self) -> dict[str, bytes]:
        """What the agent's copy holds: everything but `.meta/` (the example solution lives
        there) and build output; the tests are there, as in Aider's benchmark."""
        out: dict[str, bytes] = {}
        for p in sorted(self.path.rglob("*")):
            rel = p.relative_to(self.path)
            if not p.is_file() or rel.parts[0] in (".meta", "build", "target", "node_modules"):
                continue
            out[str(rel)] = p.read_bytes()  # gradle-wrapper.jar is binary
        return out

    def expected_tests(self) -> list[str]:
        """The tests the exercise's test files define, in its runner's naming."""
        return expected_tests(self.language, self.workspace_files(), self.tests)

    def example_solution(self) -> dict[str, str]:
        """The reference solution mapped onto the solution files (fixtures and tests use it:
        Exercism names the example `.meta/example.py` for the solution `leap.py`, or keeps
        the solution's own path under `.meta/`). Files pair by suffix (`example.h` goes to
        the `.h`, never to a `.cpp` listed first); a solution file the example lacks keeps
        its stub; an example file left over (Java's helper classes) becomes a new file
        beside the solution file of its kind."""
        out: dict[str, str] = {}
        named = {Path(s).name: s for s in self.solution}
        free = [s for s in self.solution
                if Path(s).name not in {Path(e).name for e in self.example}]
        for ex in self.example:
            name, suffix = Path(ex).name, Path(ex).suffix
            sol = named.get(name) or next((s for s in free if Path(s).suffix == suffix), None)
            if sol is None:
                kin = next((s for s in self.solution if Path(s).suffix == suffix), None)
                if kin is None:
                    continue
                sol = str(Path(kin).parent / name)
            elif sol in free:
                free.remove(sol)
            out[sol] = (self.path / ex).read_text()
        return out


DEFAULT_IMAGE = "benchdock-polyglot:1"  # the toolchains; BENCHDOCK_POLYGLOT_IMAGE chooses another


def polyglot_image(settings: Settings) -> str:
    return settings.var("BENCHDOCK_POLYGLOT_IMAGE") or DEFAULT_IMAGE


def dataset_root(settings: Settings) -> Path:
    """BENCHDOCK_POLYGLOT_DIR, else the pinned download under the data directory."""
    override = settings.var("BENCHDOCK_POLYGLOT_DIR")
    if override:
        return Path(override).expanduser()
    return settings.home / "datasets" / f"polyglot-benchmark-{REVISION[:12]}"


def ensure_dataset(root: Path, override: bool = False) -> Path:
    """The exercise tree, downloading the pinned revision the first time (never when the
    tree was named by BENCHDOCK_POLYGLOT_DIR: that is an error to report)."""
    if any((root / lang / "exercises" / "practice").is_dir() for lang in LANGUAGES):
        return root
    if override:
        raise DatasetUnavailable(
            f"BENCHDOCK_POLYGLOT_DIR={root} holds no <language>/exercises/practice/ folders")
    log.info("downloading the polyglot benchmark (%s @ %s)", REPO, REVISION[:12])
    try:
        r = httpx.get(ARCHIVE_URL, follow_redirects=True, timeout=120.0)
        r.raise_for_status()
    except httpx.HTTPError as exc:
        raise DatasetUnavailable(
            f"could not download the polyglot benchmark from {ARCHIVE_URL} ({exc}); with no "
            f"internet, put a clone of https://github.com/{REPO} (revision {REVISION}) at "
            f"{root} or set BENCHDOCK_POLYGLOT_DIR to one") from exc
    tmp = root.with_name(root.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(r.content), mode="r:gz") as tar:
        tar.extractall(tmp, filter="data")
    (top,) = list(tmp.iterdir())  # polyglot-benchmark-<rev>/
    root.parent.mkdir(parents=True, exist_ok=True)
    top.rename(root)
    shutil.rmtree(tmp, ignore_errors=True)
    return root


def load_exercises(root: Path, languages: list[str]) -> list[Exercise]:
    out: list[Exercise] = []
    for lang in languages:
        practice = root / lang / "exercises" / "practice"
        if not practice.is_dir():
            continue
        for d in sorted(p for p in practice.iterdir() if p.is_dir()):
            cfg_path = d / ".meta" / "config.json"
            if not cfg_path.is_file():
                log.warning("skipping %s: no .meta/config.json", d)
                continue
            files = json.loads(cfg_path.read_text()).get("files", {})
            # as Aider's benchmark: build files are never the agent's to edit
            ignore = {"CMakeLists.txt", "Cargo.toml", *files.get("test", []),
                      *files.get("example", [])}
            solution = [f for f in files.get("solution", []) if f not in ignore]
            out.append(Exercise(language=lang, name=d.name, path=d, solution=solution,
                                tests=list(files.get("test", [])),
                                example=list(files.get("example", []))))
    return out


def tree_hash(exercises: list[Exercise]) -> str:
    h = hashlib.sha256()
    for ex in exercises:
        h.update(ex.id.encode())
        for rel, data in sorted(ex.workspace_files().items()):
            h.update(rel.encode())
            h.update(data)
    return h.hexdigest()[:16]
