"""testgen-humaneval-plus: mutants, the known answers in both sandboxes, hostile suites.

Known answers (the EvalPlus mini fixture's HumanEval/53 `add` and HumanEval/13 `gcd`, real
HumanEval+ rows): HumanEval+'s own tests as a suite kill every counted mutant (score 1.0);
an empty or always-passing suite is valid and scores 0; a suite failing on the reference is
invalid with the reason. Hostile suites (the model's tests are untrusted code) cannot read
the implementation they test, cannot pass on the reference by ending the process, and leave
nothing for the next run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchdock.harnesses.benchmarks.testgen import mutants as mut
from benchdock.harnesses.benchmarks.testgen.benchmark import (
    IMAGE,
    TestgenHumanEvalPlus,
    mutation_score,
)
from benchdock.harnesses.benchmarks.testgen.plus_suite import render
from benchdock.harnesses.sandbox import Sandbox, docker_available, open_sandbox
from benchdock.harnesses.sandbox import local as local_backend
from benchdock.store.tables import Sample
from tests.conftest import make_settings

TASKS = ("HumanEval/53", "HumanEval/13")


def _required(var: str) -> bool:
    return os.environ.get(var, "") in ("1", "true", "yes")


@pytest.fixture(scope="module", params=["docker", "local"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    if request.param == "docker":
        ok, why = docker_available(IMAGE)
        if not ok:
            if _required("BENCHDOCK_REQUIRE_DOCKER"):
                pytest.fail(f"BENCHDOCK_REQUIRE_DOCKER=1 but {IMAGE} is not usable: {why} "
                            "(benchdock build-image --harness testgen-humaneval-plus)")
            pytest.skip(f"Docker or {IMAGE} not usable: {why}")
    else:
        ok, why = local_backend.bwrap_status()
        if not ok:
            if _required("BENCHDOCK_REQUIRE_BWRAP"):
                pytest.fail(f"BENCHDOCK_REQUIRE_BWRAP=1 but bubblewrap is unusable: {why}")
            pytest.skip(f"bubblewrap unusable: {why}")
    sb = open_sandbox(request.param, IMAGE, size=1)
    yield sb
    sb.close()


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> TestgenHumanEvalPlus:
    home = tmp_path_factory.mktemp("testgen-home")
    b = TestgenHumanEvalPlus()
    b.bind(make_settings(home, "http://127.0.0.1:9/v1"))
    return b


def _task(bench: TestgenHumanEvalPlus, task_id: str) -> Any:
    return next(t for t in bench.tasks() if t.id == task_id)


# --- without a sandbox -------------------------------------------------------------------


def test_mutants_are_cosmic_ray_s_deterministic_and_inside_the_solution() -> None:
    prompt = "def f(a, b):\n    \"\"\"doc: a + b\"\"\"\n"
    solution = "    if a > b:\n        return a - b\n    return b + 1\n"
    one, two = mut.generate(prompt, solution, "t"), mut.generate(prompt, solution, "t")
    assert one == two and one
    assert {m["id"] for m in one} == {f"m{i:02d}" for i in range(len(one))}
    assert all(m["operator"].startswith("core/") and m["line"] >= 3 for m in one)
    assert any(m["change"] == "return a - b  ->  return a + b" for m in one)
    assert all(m["code"].startswith(prompt) for m in one)  # the docstring is never mutated
    many = mut.generate(prompt, solution * 1, "t")
    assert len(many) <= mut.MAX_MUTANTS


def test_plus_suite_renders_every_case() -> None:
    text = render("f", 0, {"base": ([[1, 2]], [3]), "plus": ([[float("inf"), 1]], [float("inf")])})
    compile(text, "suite", "exec")
    assert "from solution import f" in text and "def test_base" in text and "def test_plus" in text


def test_extract_takes_the_block_with_tests(bench: TestgenHumanEvalPlus) -> None:
    task = _task(bench, "HumanEval/53")
    answer = ("Here:\n```python\nx = 1\n```\nand\n```python\nfrom solution import add\n"
              "def test_a():\n    assert add(1, 2) == 3\n```\n")
    assert bench.extract(task, answer).startswith("from solution import add")
    assert bench.extract(task, "no tests at all") == ""
    msg = bench.messages(task)[1]["content"]
    assert task.data["canonical_solution"].strip() in msg and "from solution import add" in msg


def test_dimension_row_is_the_mutation_score(bench: TestgenHumanEvalPlus) -> None:
    (row,) = bench.dimension_metrics()
    assert row.dimension == "test_generation" and row.metric == "mutation score"
    s = Sample(run_id="r", task_id="t", sample_index=0, verdict="pass",
               extra={"mutants_counted": 4, "mutation_score": 0.75})
    assert mutation_score(s) == 0.75
    assert mutation_score(Sample(run_id="r", task_id="t", sample_index=0, verdict="error",
                                 detail="no code found in the answer")) == 0.0
    assert mutation_score(Sample(run_id="r", task_id="t", sample_index=0, verdict="error",
                                 detail="the sandbox failed during this sample: x")) is None


# --- in both sandboxes ---------------------------------------------------------------------

ALWAYS = "def test_truth():\n    assert True\n"
WRONG = "from solution import {ep}\n\ndef test_wrong():\n    assert {ep}(1, 1) == -12345\n"
HOSTILE = {
    # ends the process before pytest can report anything: never a pass on the reference
    "exit_at_import": "import os\nos._exit(0)\n",
    # tries to read the implementation it is given to tell the reference from a mutant
    "reads_source": ("import inspect\nfrom solution import {ep}\n\ndef test_src():\n"
                     "    assert 'return' in inspect.getsource({ep})\n"),
    # tries to pass on the reference by killing its parent (the judge or the zygote)
    "kills_parent": ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n\n"
                     "def test_ok():\n    assert True\n"),
}
# passes the first time it runs in a job, fails afterwards: /tmp is wiped between runs, so
# it is simply an always-passing suite (valid, kills nothing)
MARKER = ("import os\nM = '/tmp/tg-marker'\nseen = os.path.exists(M)\nopen(M, 'w').close()\n\n"
          "def test_first_run_only():\n    assert not seen\n")


@pytest.mark.parametrize("task_id", TASKS)
def test_known_answers(bench: TestgenHumanEvalPlus, sandbox: Sandbox, task_id: str) -> None:
    task = _task(bench, task_id)
    bench.prepare(sandbox, [task])
    built = bench.mutants(task, sandbox)
    counted = [m for m in built["mutants"] if m["counted"]]
    assert built["generated"] >= len(counted) > 0, built
    assert bench.mutants(task, sandbox) == built  # cached: not recomputed
    assert mut.cache_path(bench.settings.home, bench.dataset_hash(), task_id).exists()

    right = bench.score(task, bench.extract(task, bench.reference(task)), sandbox)
    assert right.verdict == "pass" and right.extra, right
    assert right.extra["mutation_score"] == 1.0, right.extra["survived"]
    assert right.extra["line_coverage"] == 1.0
    assert len(right.extra["killed"]) == len(counted)
    assert {"id", "operator", "line", "change", "how"} <= set(right.extra["killed"][0])

    for suite in ("", ALWAYS, MARKER):
        v = bench.score(task, suite or "# no tests\n", sandbox)
        assert v.verdict == "pass" and v.extra, (suite, v)
        assert v.extra["mutation_score"] == 0.0 and len(v.extra["survived"]) == len(counted)

    wrong = bench.score(task, WRONG.format(ep=task.entry_point), sandbox)
    assert wrong.verdict == "fail" and wrong.detail and wrong.extra
    assert wrong.detail.startswith("invalid suite: it fails on the reference")
    assert "test_wrong" in wrong.detail and wrong.extra["mutation_score"] == 0.0


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_suites_gain_nothing(bench: TestgenHumanEvalPlus, sandbox: Sandbox,
                                     case: str) -> None:
    task = _task(bench, "HumanEval/53")
    v = bench.score(task, HOSTILE[case].format(ep=task.entry_point), sandbox)
    assert v.verdict in ("fail", "error"), v
    assert not v.extra or v.extra["mutation_score"] == 0.0, v
    # the same sandbox still judges an honest suite right afterwards
    honest = bench.score(task, "from solution import add\n\ndef test_add():\n"
                         "    assert add(2, 3) == 5\n    assert add(0, 7) == 7\n", sandbox)
    assert honest.verdict == "pass" and honest.extra
    assert 0 < honest.extra["mutation_score"] <= 1.0


def test_local_readiness_names_what_is_missing(tmp_path: Path) -> None:
    b = TestgenHumanEvalPlus()
    settings = make_settings(tmp_path, "http://127.0.0.1:9/v1", sandbox="docker")
    b.bind(settings.model_copy(update={"sandbox": "docker"}))
    why = b.readiness()
    assert why is None or "build-image --harness testgen-humaneval-plus" in why
