"""The test bed: a real llama.cpp endpoint (llama-cpp-python serving SmolLM2-135M), a real
Docker engine with the sandbox image, real SQLite files, and EvalPlus fixtures in the real
format.

BENCHDOCK_TEST_ENDPOINT names a running endpoint (`.ci/run` starts one with `benchdock
demo-server` and names its pid and log in BENCHDOCK_TEST_ENDPOINT_PID and _LOG); without it
the demo server is started here (its venv is built first if missing: minutes, once).
BENCHDOCK_REQUIRE_DOCKER=1 and BENCHDOCK_REQUIRE_ENDPOINT=1 (both set by `.ci/run`) turn
skips into failures. When the demo server has died, every failing test says so (its signal
and log) rather than leaving a connection error to explain it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent  # the checkout
FIXTURES = Path(__file__).parent / "fixtures"
# the polyglot fixtures hold exercises' own tests (leap_test.py): data, not our tests
collect_ignore = ["fixtures"]
# EvalPlus reads its override paths when evalplus.data is first imported: set them first.
os.environ.setdefault("HUMANEVAL_OVERRIDE_PATH", str(FIXTURES / "HumanEvalPlus-mini.jsonl"))
os.environ.setdefault("MBPP_OVERRIDE_PATH", str(FIXTURES / "MbppPlus-mini.jsonl"))
os.environ.setdefault("BENCHDOCK_LOG_LEVEL", "INFO")

from benchdock.harnesses.client.demo import DemoServer, log_tail  # noqa: E402
from benchdock.harnesses.config import EndpointConfig, Settings  # noqa: E402
from benchdock.harnesses.sandbox import docker_available  # noqa: E402

IMAGE = os.environ.get("BENCHDOCK_SANDBOX_IMAGE", "benchdock-sandbox:1")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _required(var: str) -> bool:
    return os.environ.get(var, "") in ("1", "true", "yes")


@pytest.fixture(scope="session")
def docker_image() -> str:
    ok, why = docker_available(IMAGE)
    if not ok:
        if _required("BENCHDOCK_REQUIRE_DOCKER"):
            pytest.fail(f"BENCHDOCK_REQUIRE_DOCKER=1 but Docker is not usable: {why}")
        pytest.skip(f"Docker not usable: {why}")
    return IMAGE


_DEMO: list[DemoServer] = []  # the demo server this session started, if any


def demo_death() -> str | None:
    """What happened to the session's demo server (ours, or `.ci/run`'s), if it is gone."""
    if _DEMO:
        return _DEMO[0].death()
    pid, log = os.environ.get("BENCHDOCK_TEST_ENDPOINT_PID"), os.environ.get("BENCHDOCK_TEST_ENDPOINT_LOG")
    if not pid:
        return None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        state = "gone"
    if state not in ("gone", "Z"):
        return None
    tail = log_tail(Path(log)) if log else ""
    return (f"the endpoint's server (pid {pid}, BENCHDOCK_TEST_ENDPOINT) has ended; its log: "
            f"{log or 'unknown'}" + (f"\nlast lines of the log:\n{tail}" if tail else ""))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome: Any = yield
    report = outcome.get_result()
    if report.failed and "endpoint_url" in getattr(item, "fixturenames", ()):
        died = demo_death()
        if died:
            report.sections.append(("the demo server died", died))


@pytest.fixture(scope="session")
def endpoint_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("BENCHDOCK_TEST_ENDPOINT")
    if url:
        yield url
        return
    try:
        from benchdock.harnesses.client.demo import start_demo_server

        server = start_demo_server(log=tmp_path_factory.mktemp("demo") / "server.log")
    except Exception as exc:
        if _required("BENCHDOCK_REQUIRE_ENDPOINT"):
            pytest.fail(f"BENCHDOCK_REQUIRE_ENDPOINT=1 but no endpoint: {exc}")
        pytest.skip(f"no llama.cpp endpoint: {exc}")
    _DEMO.append(server)
    yield server.url
    died = server.death()
    server.stop()
    if died:
        pytest.fail(f"the demo server died during the tests: {died}")


def make_settings(home: Path, endpoint: str, sandbox: str = "docker") -> Settings:
    return Settings(
        endpoints=[EndpointConfig(url=endpoint)], home=home,
        database_url=f"sqlite:///{home / 'benchdock.db'}", sandbox=sandbox,  # type: ignore[arg-type]
        sandbox_image=IMAGE,
    )


POLYGLOT_FIXTURES = FIXTURES / "polyglot"
# the real polyglot tree (../shared/datasets in CI); its data are never copied into the repo
POLYGLOT_REAL = Path(os.environ.get("BENCHDOCK_POLYGLOT_REAL_DIR") or Path(__file__).resolve()
                     .parents[2] / "shared" / "datasets" / "polyglot-benchmark")


def _catch_header() -> None:
    """The C++ fixture builds with Catch2's single header, as the real exercises do: taken
    from the real tree at test time (untracked), not kept in the repository."""
    want = POLYGLOT_FIXTURES / "cpp/exercises/practice/leap/test/catch.hpp"
    real = next(iter(sorted((POLYGLOT_REAL / "cpp/exercises/practice").glob("*/test/catch.hpp"))),
                None)
    if not want.exists() and real is not None:
        # pytest-xdist's workers import this at once: write aside, then rename (atomic), so no
        # worker compiles against a half-written header
        part = want.with_name(f".{want.name}.{os.getpid()}")
        part.write_bytes(real.read_bytes())
        part.replace(want)


_catch_header()
POLYGLOT_IMAGE = os.environ.get("BENCHDOCK_POLYGLOT_IMAGE", "benchdock-polyglot:1")


@pytest.fixture(scope="session")
def aider_ready() -> str:
    """aider's venv and the polyglot image (both made by `.ci/run`); skipped without them,
    failed when BENCHDOCK_REQUIRE_AIDER=1."""
    from benchdock.harnesses.benchmarks.aider.environment import EnvironmentMissing, load_env
    from benchdock.harnesses.config import default_envs_dir

    problem = None
    try:
        load_env(default_envs_dir())
    except EnvironmentMissing as exc:
        problem = str(exc)
    if problem is None:
        ok, why = docker_available(POLYGLOT_IMAGE)
        problem = None if ok else f"polyglot image not usable: {why}"
    if problem:
        if _required("BENCHDOCK_REQUIRE_AIDER"):
            pytest.fail(f"BENCHDOCK_REQUIRE_AIDER=1 but {problem}")
        pytest.skip(problem)
    return POLYGLOT_IMAGE


@pytest.fixture
def polyglot_fixtures(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tests' own exercises, in the polyglot benchmark's layout. Their C++ exercise needs
    Catch2's header from the real tree: without it the failure says so, not a compile error."""
    header = POLYGLOT_FIXTURES / "cpp/exercises/practice/leap/test/catch.hpp"
    if not header.exists():
        pytest.fail(f"{header} is missing: it is copied from the real polyglot tree, not found "
                    f"at {POLYGLOT_REAL} (../shared beside the checkout, or set "
                    "BENCHDOCK_POLYGLOT_REAL_DIR)")
    monkeypatch.setenv("BENCHDOCK_POLYGLOT_DIR", str(POLYGLOT_FIXTURES))
    return POLYGLOT_FIXTURES


# --- the suite in parallel (pytest-xdist: `.ci/run` runs `pytest -n N --dist loadgroup`) -------
#
# Under --dist loadgroup the tests of one xdist_group run on one worker, one after another;
# other groups run beside them on the other workers. What tests share on one machine, and how
# it is kept from interfering:
#
# - The demo endpoints (BENCHDOCK_TEST_ENDPOINT, _ENDPOINT2): llama-cpp-python serves one
#   request at a time, and `/v1/models` waits behind the running completion (the same lock):
#   two tests on the endpoint at once see it "down" (list_models' 5 s probe) and time each
#   other's answers. (Its default, `interrupt_requests`, also cut the streamed answer in
#   progress off when another request arrived, even from a worker a finished test left
#   behind: the demo server turns it off, and benchdock asks again when a stream ends
#   without a finish_reason.) Every test that uses `endpoint_url` (directly or through a
#   fixture) is in the group "endpoint"; so is the one that starts a second llama.cpp server
#   of its own (test_example_choose: its CPU is the endpoint's).
# - test_remote_docker's second dockerd: its module is a group of its own (its module-scoped
#   engine, started once), and the engine fixture holds a machine-wide lock besides, so two
#   test sessions on one machine never run two extra engines at once.
# - Module-scoped fixtures (sandbox pools, an HTTP server, a polyglot image, EvalPlus's
#   reference data): every module is a group of its own unless it is in a shared group, so
#   its module fixtures are made once, on one worker (not once per worker that drew one of
#   its tests).
# - PostgreSQL (tests/support/pgserver.py), the Docker engine, ports, homes: each worker
#   process starts its own PostgreSQL server on a free port (one retry when the port is
#   taken meanwhile); containers are labelled with their owner's pid and tests look only at
#   their own; servers bind free ports; every test's BENCHDOCK_HOME is its tmp_path (the
#   default home is read only: swe-local's instance set). None of these needs a group.
# - Time: tests that assert durations or wait against deadlines must hold on a loaded machine
#   (a CPU hog on every core beside the suite); parallel workers are such load.
XDIST_SHARED = "endpoint"
XDIST_OWN_MODULE_GROUP = ("tests/harnesses/sandbox/test_remote_docker.py",)
ENDPOINT_FIXTURES = {"endpoint_url"}
ENDPOINT_MODULES = ("tests/examples/test_example_choose.py",
                    "tests/harnesses/choice/test_adaptive_e2e.py")  # ENDPOINT2, its own fixture


def xdist_group(item: pytest.Item) -> str:
    """The group a test runs in (see above): "endpoint", else its module."""
    module = item.nodeid.split("::", 1)[0]
    if module in XDIST_OWN_MODULE_GROUP:
        return module
    if ENDPOINT_FIXTURES & set(getattr(item, "fixturenames", ())) or module in ENDPOINT_MODULES:
        return XDIST_SHARED
    return module


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any(m.name == "xdist_group" for item in items for m in item.iter_markers()):
        raise pytest.UsageError("tests are grouped for pytest-xdist in tests/conftest.py "
                                "(xdist_group): a mark of a test's own would split its group")
    for item in items:
        item.add_marker(pytest.mark.xdist_group(xdist_group(item)))
