"""BigCodeBench's tests run on the real data (the shared v0.1.4 file through upstream's own
BIGCODEBENCH_OVERRIDE_PATH) and, where they judge, in the slim image CI builds
(`benchdock build-image --harness bigcodebench-slim`; BENCHDOCK_BIGCODEBENCH_TEST_IMAGE
names another, e.g. the full image). BENCHDOCK_REQUIRE_DOCKER=1 turns a missing engine,
image or data file into a failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchdock.harnesses.sandbox import Sandbox, docker_available

DATA = Path(__file__).resolve().parents[5] / "shared" / "datasets" / "bigcodebench"
REAL = Path(os.environ.get("BENCHDOCK_BIGCODEBENCH_TEST_DATA", DATA / "BigCodeBench-v0.1.4.jsonl.gz"))
IMAGE = os.environ.get("BENCHDOCK_BIGCODEBENCH_TEST_IMAGE", "benchdock-bigcodebench-slim:1")


def _required() -> bool:
    return os.environ.get("BENCHDOCK_REQUIRE_DOCKER", "") in ("1", "true", "yes")


@pytest.fixture
def real_data(monkeypatch: pytest.MonkeyPatch) -> Path:
    if not REAL.is_file():
        if _required():
            pytest.fail(f"BigCodeBench's data is not at {REAL} (BENCHDOCK_BIGCODEBENCH_TEST_DATA)")
        pytest.skip(f"no BigCodeBench data at {REAL}")
    monkeypatch.setenv("BIGCODEBENCH_OVERRIDE_PATH", str(REAL))
    return REAL


@pytest.fixture(scope="module")
def bcb_sandbox() -> Iterator[Sandbox]:
    ok, why = docker_available(IMAGE)
    if not ok:
        if _required():
            pytest.fail(f"BENCHDOCK_REQUIRE_DOCKER=1 but {IMAGE} is not usable: {why}")
        pytest.skip(f"{IMAGE} not usable: {why}")
    from benchdock.harnesses.sandbox.docker_backend import DockerSandbox

    sandbox = DockerSandbox(IMAGE, 2).start()
    try:
        yield sandbox
    finally:
        sandbox.close()
