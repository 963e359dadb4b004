"""The online SWE-bench sets (swe-verified, swe-lite, swe-mini) without Docker Hub or the
Hugging Face hub: loading SWE-bench's instance format from an override file (a hand-written
3-instance fixture, ids marked `benchdock-fixture__`), the official image names as swebench
and mini-swe-agent derive them, the plan's disk/time estimate and the dry run, and that
grading reads each repository's log with swebench's parser for it (django's, sympy's)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from benchdock.harnesses.benchmarks.swe.online import (
    VARIANTS,
    image_name,
    load_instances,
    to_instance,
)
from benchdock.harnesses.benchmarks.swe.online_benchmark import SweBench
from benchdock.harnesses.choice.plan import dry_run
from benchdock.harnesses.config import Settings, default_envs_dir
from benchdock.harnesses.contract.benchmark import DatasetUnavailable
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.envs.managed import ManagedEnv
from benchdock.store.db import make_engine
from tests.conftest import FIXTURES, make_settings

FIXTURE = FIXTURES / "swe_online" / "instances.jsonl"


def settings_with(tmp_path: Path, **variables: str) -> Settings:
    s = make_settings(tmp_path, "http://fake/v1")
    s.variables = {k: v for k, v in s.variables.items() if not k.startswith("BENCHDOCK_SWE_")}
    s.variables.update(variables)
    return s


def swe_env() -> ManagedEnv:
    """The swe venv (swebench, mini-swe-agent), or skip/fail naming it."""
    from benchdock.harnesses.benchmarks.swe.environment import load_env
    from benchdock.harnesses.envs.managed import EnvironmentMissing

    try:
        return load_env(default_envs_dir())
    except EnvironmentMissing as exc:
        if os.environ.get("BENCHDOCK_REQUIRE_SWE") == "1":
            pytest.fail(f"BENCHDOCK_REQUIRE_SWE=1 but {exc}")
        pytest.skip(str(exc))


def swe_python() -> Path:
    return swe_env().python


def in_venv(code: str, data: Any) -> Any:
    import subprocess

    done = subprocess.run([str(swe_python()), "-c", code], input=json.dumps(data),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # after mini-swe-agent's banner


# --- data -----------------------------------------------------------------------------------

def test_the_three_sets_are_registered_as_one_declaration() -> None:
    benches = [get_benchmark(v.bench_id) for v in VARIANTS.values()]
    assert [b.id for b in benches] == ["swe-verified", "swe-lite", "swe-mini"]
    assert all(isinstance(b, SweBench) and b.family == "swe-bench" for b in benches)
    assert [b.nominal_tasks for b in benches] == [500, 300, 50]
    assert VARIANTS["verified"].dataset == "SWE-bench/SWE-bench_Verified"


def test_loads_swe_bench_format_from_the_override_file(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, BENCHDOCK_SWE_VERIFIED_PATH=str(FIXTURE))
    bench = get_benchmark("swe-verified", settings)
    tasks = bench.tasks()
    assert [t.id for t in tasks] == ["benchdock-fixture__toy-1", "benchdock-fixture__django-2",
                                     "benchdock-fixture__sympy-3"]
    assert "FIXTURE" in tasks[0].prompt
    insts = {i.instance_id: i for i in bench.instances()}  # type: ignore[attr-defined]
    toy, django = insts["benchdock-fixture__toy-1"], insts["benchdock-fixture__django-2"]
    # the hub's JSON-string lists become lists
    assert toy.FAIL_TO_PASS == ["tests/test_calc.py::test_add"]
    assert toy.PASS_TO_PASS == ["tests/test_calc.py::test_add_zero", "tests/test_calc.py::test_mul"]
    assert toy.gold_files() == ["toy/calc.py"]
    # an instance naming its image keeps it; one that does not gets the official name
    assert toy.image.startswith("benchdock-fixture/sweb.eval.x86_64.")
    assert django.image == "swebench/sweb.eval.x86_64.benchdock-fixture_1776_django-2:latest"
    assert django.log_parser == "" and insts["benchdock-fixture__sympy-3"].log_parser == \
        "parse_log_sympy"
    assert len(bench.dataset_hash()) == 16


def test_jsonl_and_json_copies_load_the_same(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    as_json = tmp_path / "lite.json"
    as_json.write_text(json.dumps(rows))
    a = load_instances(settings_with(tmp_path, BENCHDOCK_SWE_LITE_PATH=str(FIXTURE)),
                       VARIANTS["lite"])
    b = load_instances(settings_with(tmp_path, BENCHDOCK_SWE_LITE_PATH=str(as_json)),
                       VARIANTS["lite"])
    assert a is not None and a == b


def test_without_data_it_says_how_to_get_it(tmp_path: Path) -> None:
    bench = get_benchmark("swe-mini", settings_with(tmp_path))
    with pytest.raises(DatasetUnavailable) as err:
        bench.tasks()
    assert "benchdock setup swe-mini" in str(err.value)
    assert "BENCHDOCK_SWE_MINI_PATH" in str(err.value)
    assert bench.readiness() is not None
    missing = settings_with(tmp_path, BENCHDOCK_SWE_MINI_PATH=str(tmp_path / "nope.jsonl"))
    with pytest.raises(DatasetUnavailable, match="no such file"):
        get_benchmark("swe-mini", missing).tasks()


def test_an_instance_swebench_5_cannot_grade_is_refused() -> None:
    row = json.loads(FIXTURE.read_text().splitlines()[1])
    del row["eval_script"]  # an older copy of the dataset
    with pytest.raises(DatasetUnavailable) as err:
        to_instance(row)
    assert "eval_script" in str(err.value) and "SWE-bench/SWE-bench_Verified" in str(err.value)
    with pytest.raises(DatasetUnavailable, match="base_commit"):
        to_instance({**row, "eval_script": "x", "base_commit": ""})


# --- image names ----------------------------------------------------------------------------

def test_image_names_follow_the_official_scheme() -> None:
    assert image_name("django__django-11099") == \
        "swebench/sweb.eval.x86_64.django_1776_django-11099:latest"
    assert image_name("sympy__sympy-20590") == \
        "swebench/sweb.eval.x86_64.sympy_1776_sympy-20590:latest"
    # lowercased after the dunder is replaced, as swebench does
    assert image_name("PyCQA__Flake8-1") == "swebench/sweb.eval.x86_64.pycqa_1776_flake8-1:latest"


def test_image_names_equal_swebench_and_mini_swe_agent_own() -> None:
    ids = ["django__django-11099", "sympy__sympy-20590", "astropy__astropy-12907",
           "scikit-learn__scikit-learn-10297", "PyCQA__Flake8-1", "benchdock-fixture__toy-1"]
    theirs = in_venv(
        "import json, sys\n"
        "from swebench.image_builder.image_spec import ImageSpec\n"
        "from swebench.task.checks import expected_image\n"
        "from minisweagent.run.benchmarks.swebench import get_swebench_docker_image_name\n"
        "ids = json.load(sys.stdin)\n"
        "print(json.dumps([[ImageSpec(instance_id=i, dockerfile='x', namespace='swebench').name,"
        " expected_image(i), get_swebench_docker_image_name({'instance_id': i})] for i in ids]))",
        ids)
    for iid, (spec, checks, mini) in zip(ids, theirs, strict=True):
        assert image_name(iid) == spec == checks, iid
        assert mini == f"docker.io/{image_name(iid)}", iid


# --- the plan's estimate --------------------------------------------------------------------

def test_verified_footprint_without_the_dataset_uses_published_figures(tmp_path: Path) -> None:
    bench = get_benchmark("swe-verified", settings_with(tmp_path))
    fp = bench.footprint()
    assert fp is not None
    assert fp.items == 500 and fp.present == 0
    # 206 GiB on disk and 100 GiB to transfer (published), plus working space
    assert 100 < fp.download_gb < 115 and 215 < fp.disk_gb < 235
    assert "206 GiB" in fp.basis and "not downloaded" in fp.basis
    assert fp.download_minutes > 60  # >100 GB at 100 Mbit/s
    assert fp.examples == ["swebench/sweb.eval.x86_64.django_1776_django-11099:latest"]
    half = bench.footprint(250)
    assert half is not None and half.items == 250
    assert abs(half.download_gb - fp.download_gb / 2) < 0.2
    mini = get_benchmark("swe-mini", settings_with(tmp_path)).footprint()
    assert mini is not None and mini.items == 50 and mini.disk_gb < 10
    assert get_benchmark("humaneval").footprint() is None
    assert bench.info().footprint == fp


def test_footprint_with_the_dataset_names_the_images(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, BENCHDOCK_SWE_VERIFIED_PATH=str(FIXTURE),
                             BENCHDOCK_DOWNLOAD_MBIT_S="1000")
    fp = get_benchmark("swe-verified", settings).footprint(2)
    assert fp is not None and fp.items == 2
    assert fp.examples == [
        "benchdock-fixture/sweb.eval.x86_64.benchdock-fixture_1776_toy-1:latest",
        "swebench/sweb.eval.x86_64.benchdock-fixture_1776_django-2:latest"]
    assert "image names from the dataset" in fp.basis and "1000 Mbit/s" in fp.basis


def test_dry_run_of_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `benchdock plan MODEL --dry-run swe-verified` prints, as data: the catalogue is
    built from the environment, here one with no SWE-bench data downloaded."""
    from benchdock.harnesses.choice import catalogue as cat

    monkeypatch.setenv("BENCHDOCK_HOME", str(tmp_path))
    monkeypatch.delenv("BENCHDOCK_SWE_VERIFIED_PATH", raising=False)
    db = make_engine(settings_with(tmp_path).database_url)
    cat.catalogue.cache_clear()
    try:
        d = dry_run(db, ["model-a", "model-b"], "swe-verified")
    finally:
        cat.catalogue.cache_clear()
    assert d.tasks == 500 and not d.ready and d.footprint is not None
    assert d.footprint.items == 500
    a, b = d.per_model
    assert a.model == "model-a" and "nothing measured" in a.estimate_basis
    # the declared cost at the assumed 20 tokens/s: 40 x (1 s + 250/20 s) + 60 s per instance
    assert a.estimate_minutes == pytest.approx(500 * (40 * (1 + 250 / 20) + 60) / 60, rel=0.01)
    assert d.total_hours == pytest.approx((a.estimate_minutes + b.estimate_minutes +
                                           d.footprint.download_minutes) / 60, abs=0.1)
    with pytest.raises(Exception, match="unknown benchmark"):
        dry_run(db, ["m"], "swe-nope")


def test_a_planned_run_says_what_it_pulls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """plan_evaluation on a catalogue holding only swe-mini (ready: the venv and the fixture
    as its data): the planned run carries the footprint, and its estimate the download."""
    from benchdock.harnesses.choice import catalogue as cat
    from benchdock.harnesses.choice import estimates
    from benchdock.harnesses.choice import plan as plan_mod

    swe_env()
    settings = settings_with(tmp_path, BENCHDOCK_SWE_MINI_PATH=str(FIXTURE),
                             BENCHDOCK_DOWNLOAD_MBIT_S="1")
    bench = SweBench(VARIANTS["mini"]).bind(settings)
    assert bench.readiness() is None, bench.readiness()
    only = {"swe-mini": bench}
    for mod in (cat, plan_mod, estimates):
        monkeypatch.setattr(mod, "catalogue", lambda: only)
    got = plan_mod.plan(make_engine(settings.database_url), ["model-a", "model-b"], 10**6,
                        {"planning": 1.0}, known_models=["model-a", "model-b"])
    first, second = got.runs
    assert first.benchmark == second.benchmark == "swe-mini"
    assert first.footprint is not None and first.footprint.items == 3  # the fixture's images
    fp = first.footprint
    # the toy's stand-in image is here once the e2e test built it: only the missing ones
    assert f"min to download {fp.items - fp.present} images" in first.estimate_basis
    assert "download" not in second.estimate_basis  # once per machine, not per model
    assert first.estimate_minutes == pytest.approx(
        second.estimate_minutes + first.footprint.download_minutes, abs=0.2)


# --- grading dispatch -----------------------------------------------------------------------

DJANGO_LOG = """+ : '>>>>> Start Test Output'
+ ./tests/runtests.py --verbosity 2 fixture.tests
Testing against Django installed in '/testbed/django'
test_fixed (fixture.tests.FixtureTests) ... ok
test_kept (fixture.tests.FixtureTests) ... ok
test_other (fixture.tests.FixtureTests) ... FAIL

----------------------------------------------------------------------
Ran 3 tests in 0.004s

FAILED (failures=1)
+ SWEBENCH_TEST_EXIT_CODE=1
+ : '>>>>> End Test Output'
>>>>> Test Exit Code: 1
"""

SYMPY_LOG = """+ : '>>>>> Start Test Output'
+ bin/test -C --verbose sympy/core/tests/test_fixture.py
============================= test process starts ==============================
sympy/core/tests/test_fixture.py[2]
test_fixed ok
test_kept F

________________________________________________________________________________
__________________ sympy/core/tests/test_fixture.py:test_kept __________________
AssertionError
============= tests finished: 1 passed, 1 failed, in 0.01 seconds ==============
DO *NOT* COMMIT!
+ SWEBENCH_TEST_EXIT_CODE=1
+ : '>>>>> End Test Output'
>>>>> Test Exit Code: 1
"""


def test_grading_reads_each_repo_with_its_own_parser(tmp_path: Path) -> None:
    from benchdock.harnesses.benchmarks.swe import grading
    from benchdock.harnesses.benchmarks.swe.online_session import grade_log

    env = swe_env()
    python = env.python
    settings = settings_with(tmp_path, BENCHDOCK_SWE_LITE_PATH=str(FIXTURE))
    insts = {i.instance_id: i for i in get_benchmark("swe-lite", settings)
             .instances()}  # type: ignore[attr-defined]
    django, sympy = insts["benchdock-fixture__django-2"], insts["benchdock-fixture__sympy-3"]
    # swebench's own parsers, named directly, against benchdock's dispatch through the driver
    direct = grading.swebench(python, [
        {"op": "parse", "log": DJANGO_LOG, "log_parser": "parse_log_django"},
        {"op": "parse", "log": SYMPY_LOG, "log_parser": "parse_log_sympy"},
        {"op": "parse", "log": DJANGO_LOG, "log_parser": "parse_log_pytest"}])
    assert direct[0] == {"test_fixed (fixture.tests.FixtureTests)": "PASSED",
                         "test_kept (fixture.tests.FixtureTests)": "PASSED",
                         "test_other (fixture.tests.FixtureTests)": "FAILED"}
    assert direct[1]["test_fixed"] == "PASSED" and direct[1]["test_kept"] == "FAILED"
    # pytest's parser misreads django's runner (no test of it, a bogus "(failures=1)"): the
    # dispatch to the repo's parser is what makes the verdict right
    assert not set(direct[2]) & set(direct[0]) and direct[2] != direct[0]
    d = grade_log(env, django, django.patch, DJANGO_LOG, 1.0)
    assert d["parser"] == "parse_log_django"  # by repo: the instance names no parser
    assert d["official"]["resolved"] is True, d["official"]
    assert d["official"]["tests_status"]["FAIL_TO_PASS"]["success"] == django.FAIL_TO_PASS
    assert not d["own_checked"]
    s = grade_log(env, sympy, sympy.patch, SYMPY_LOG, 1.0)
    assert s["parser"] == "parse_log_sympy"
    assert s["official"]["resolved"] is False
    assert s["official"]["tests_status"]["PASS_TO_PASS"]["failure"] == ["test_kept"]
    # a repo swebench does not know falls back to pytest's parser
    assert grading.swebench(python, [{"op": "parser", "repo": "someone/else"}]) == \
        ["parse_log_pytest"]


def test_the_eval_script_is_swebench_own(tmp_path: Path) -> None:
    from benchdock.harnesses.benchmarks.swe import grading
    from benchdock.harnesses.benchmarks.swe.online_session import eval_fields

    python = swe_python()
    settings = settings_with(tmp_path, BENCHDOCK_SWE_LITE_PATH=str(FIXTURE))
    toy = get_benchmark("swe-lite", settings).instances()[0]  # type: ignore[attr-defined]
    script = grading.swebench(python, [{"op": "eval_script", "instance": eval_fields(toy)}])[0]
    assert script.startswith("#!/bin/bash\nset -uxo pipefail\n")
    # swebench records the test command's exit status right after it
    assert "SWEBENCH_TEST_EXIT_CODE=$?" in script and ">>>>> Test Exit Code" in script
    assert "python3 -m pytest -p no:cacheprovider -rA tests/test_calc.py" in script
