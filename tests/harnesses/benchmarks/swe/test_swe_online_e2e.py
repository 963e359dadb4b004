"""The online SWE-bench path end to end against real Docker, real mini-swe-agent and
swebench, without Docker Hub: the fixture's `benchdock-fixture__toy-1` runs in a stand-in
for its official image built here (tests/fixtures/swe_online/toy: the repository at its
base commit in /testbed, root, as the official images are), graded with the instance's own
eval script. Known answers: the gold patch resolves it; an empty diff does not; the gold
patch plus a change that breaks a PASS_TO_PASS test does not. An instance whose image is
missing and cannot be pulled fails the run with an error naming the image. Every container
the runs started is gone afterwards."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest

from benchdock.harnesses.benchmarks.swe.online import OnlineInstance, ensure_image
from benchdock.harnesses.config import Settings
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.engine.executor import RunExecutor
from benchdock.harnesses.sandbox.base import SandboxError
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from benchdock.store.tables import Run, Sample
from tests.harnesses.benchmarks.bfcl.test_bfcl_fake_model import fake_endpoint
from tests.harnesses.benchmarks.swe.test_swe_online import FIXTURE, settings_with, swe_env
from tests.server.test_e2e import owned_containers
from tests.support.swe_support import scripted

TOY = FIXTURE.parent / "toy"
SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && cat patch.txt"
BREAK_MUL = "sed -i 's/return a \\* b/return a + b/' toy/calc.py"


def docker_up() -> None:
    """A Docker engine answers, or skip (fail with BENCHDOCK_REQUIRE_DOCKER=1)."""
    from benchdock.harnesses.sandbox.docker_backend import docker_client

    try:
        docker_client().ping()
    except Exception as exc:
        if os.environ.get("BENCHDOCK_REQUIRE_DOCKER") == "1":
            pytest.fail(f"BENCHDOCK_REQUIRE_DOCKER=1 but Docker does not answer: {exc}")
        pytest.skip(f"Docker does not answer: {exc}")


def toy_image(inst: OnlineInstance) -> str:
    """Build the stand-in image once (seconds, on the local swe image); skip or fail (with
    BENCHDOCK_REQUIRE_DOCKER=1 / BENCHDOCK_REQUIRE_SWE=1) when Docker or the base is away."""
    from benchdock.harnesses.benchmarks.swe.project import image_exists, swe_image

    required = "1" in (os.environ.get("BENCHDOCK_REQUIRE_DOCKER"),
                       os.environ.get("BENCHDOCK_REQUIRE_SWE"))
    base = swe_image(Settings.from_env())
    try:
        if image_exists(inst.image):
            return inst.image
        problem = None if image_exists(base) else (
            f"{base} is not built: run `benchdock build-image --harness swe-local`")
    except SandboxError as exc:
        problem = str(exc)
    if problem:
        if required:
            pytest.fail(problem)
        pytest.skip(problem)
    done = subprocess.run(["docker", "build", "-q", "--network", "none", "--build-arg",
                           f"BASE={base}", "-t", inst.image, str(TOY)], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return inst.image


def run(settings: Settings, task_ids: list[str], answer: Any, run_id: str) -> tuple[str, Run,
                                                                                     list[Sample]]:
    db = make_engine(settings.database_url)
    bench = get_benchmark("swe-mini", settings)
    r = Run(id=run_id, benchmark="swe-mini", benchmark_version=bench.version,
            dataset_hash=bench.dataset_hash(), model=f"fake-{run_id}",  # no shared cache
            endpoint_url=str(settings.endpoints[0].url), task_ids=task_ids,
            total=len(task_ids), status="running", concurrency=1,
            params={"temperature": 0.0, "top_p": 1.0, "max_tokens": 512,
                    "options": {"step_limit": 5}})
    q.add_run(db, r)
    status = anyio.run(RunExecutor(settings, db, r, answer).execute)
    done = q.get_run(db, r.id)
    assert done is not None
    return status, done, q.all_samples(db, r.id)


def apply(patch: str, then: str = "") -> str:
    return (f"cat > /tmp/gold.patch <<'BENCHDOCK_PATCH_END'\n{patch}BENCHDOCK_PATCH_END\n"
            f"git apply /tmp/gold.patch {('&& ' + then) if then else ''}&& git diff > patch.txt")


def test_known_answers_on_a_local_stand_in_image(tmp_path: Path) -> None:
    swe_env()
    settings = settings_with(tmp_path, BENCHDOCK_SWE_MINI_PATH=str(FIXTURE),
                             BENCHDOCK_SWE_PULL="0")
    toy = get_benchmark("swe-mini", settings).instances()[0]  # type: ignore[attr-defined]
    toy_image(toy)
    answers = {"gold": [apply(toy.patch), SUBMIT],
               "empty": ["echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"],
               "broken": [apply(toy.patch, BREAK_MUL), SUBMIT]}
    got: dict[str, Sample] = {}
    for name, steps in answers.items():
        def step(n: int, task: str, steps: list[str] = steps) -> str:
            return steps[min(n, len(steps) - 1)]

        status, r, samples = run(settings, [toy.instance_id], fake_endpoint(scripted(step)),
                                 f"swe-online-{name}")
        assert status == "succeeded", r.error
        got[name] = samples[0]
    g, e, b = got["gold"], got["empty"], got["broken"]
    assert g.verdict == "pass", (g.detail, g.extra.get("test_log"))
    assert g.extra["exit_status"] == "Submitted"
    assert g.extra["FAIL_TO_PASS"]["success"] == toy.FAIL_TO_PASS
    assert g.extra["grading_parser"] == "parse_log_pytest" and g.extra["grading_agrees"]
    assert g.extra["image"] == toy.image and g.extra["touched_gold_files"]
    assert ">>>>> Start Test Output" in g.extra["test_log"]
    assert e.verdict == "fail" and "no patch submitted" in (e.detail or "")
    assert b.verdict == "fail", b.detail
    assert b.extra["PASS_TO_PASS"]["failure"] == ["tests/test_calc.py::test_mul"]
    assert b.extra["FAIL_TO_PASS"]["success"] == toy.FAIL_TO_PASS
    assert owned_containers(os.getpid()) == []


def test_a_missing_image_that_cannot_be_pulled_fails_the_run_naming_it(tmp_path: Path) -> None:
    swe_env()
    settings = settings_with(tmp_path, BENCHDOCK_SWE_MINI_PATH=str(FIXTURE),
                             BENCHDOCK_SWE_PULL="0")
    django = get_benchmark("swe-mini", settings).instances()[1]  # type: ignore[attr-defined]
    docker_up()
    with pytest.raises(SandboxError) as err:
        ensure_image(django.image, pull=False)
    text = str(err.value)
    assert django.image in text and f"docker pull {django.image}" in text
    assert "BENCHDOCK_SWE_PULL=0" in text
    status, r, samples = run(settings, [django.instance_id],
                             fake_endpoint(scripted(lambda n, t: SUBMIT)), "swe-online-missing")
    assert status == "failed"
    assert django.image in (r.error or "") and "docker pull" in (r.error or "")
    assert samples[0].verdict is None  # not judged: the sandbox could not run
    assert owned_containers(os.getpid()) == []


def test_pulling_an_image_that_is_not_on_the_hub_is_an_error_naming_it() -> None:
    """A real `docker pull` (this machine reaches no Docker Hub; elsewhere the name does
    not exist there): the error names the image and how to get it."""
    docker_up()
    image = "swebench/sweb.eval.x86_64.benchdock-fixture_1776_nope-0:latest"
    with pytest.raises(SandboxError) as err:
        ensure_image(image, pull=True)
    assert image in str(err.value) and "docker load" in str(err.value)
