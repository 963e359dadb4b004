"""The benchmark seam: one declaration per benchmark, read by tools, CLI and service; the
run settings declared once; stores written before the seam still read; and a benchmark from
another package (an entry-point plugin) installed, listed, run and compared with no change
to benchdock."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastmcp import Client
from sqlalchemy import text
from sqlmodel import Session

from benchdock.harnesses.contract.benchmark import BenchmarkBase
from benchdock.harnesses.contract.registry import benchmark_ids, get_benchmark
from benchdock.harnesses.engine.executor import pipeline_for
from benchdock.harnesses.service.views import RunRequest
from benchdock.server.app import create_server
from benchdock.server.cli import main, parser
from benchdock.server.cli_run import run_request
from benchdock.store import queries as q
from benchdock.store.db import make_engine, migrate
from tests.conftest import FIXTURES, make_settings
from tests.support.seed import passes, seed_run

PLUGIN = FIXTURES / "plugin"


@pytest.mark.anyio
async def test_tool_parameters_are_the_run_settings(tmp_path: Path) -> None:
    """run_benchmark's schema is RunRequest's: the same names, types, bounds, defaults and
    descriptions (declared once, in runspec.py)."""
    async with Client(create_server(make_settings(tmp_path, "http://127.0.0.1:9/v1"))) as c:
        tool = next(t for t in await c.list_tools() if t.name == "run_benchmark")
    declared = RunRequest.model_json_schema()
    props, want = tool.input_schema["properties"], declared["properties"]
    assert set(props) == set(want)
    for name, schema in want.items():
        got = {k: v for k, v in props[name].items() if k != "title"}
        assert got == {k: v for k, v in schema.items() if k != "title"}, name
    assert set(tool.input_schema.get("required", [])) == set(declared.get("required", []))


def test_cli_flags_are_the_run_settings() -> None:
    p = parser()
    args = p.parse_args(["run", "aider-polyglot", "--model", "m", "--tasks", "python/leap, go/leap",
                         "--limit", "2", "--n-samples", "3", "--temperature", "0.7",
                         "--top-p", "0.9", "--max-tokens", "1000", "--seed", "7",
                         "--concurrency", "2", "--endpoint", "strix", "--mode", "whole",
                         "--option", "x=1", "--show", "0"])
    req = run_request(args)
    assert req == RunRequest(model="m", benchmark="aider-polyglot", tasks=["python/leap", "go/leap"],
                             limit=2, n_samples=3, temperature=0.7, top_p=0.9, max_tokens=1000,
                             seed=7, concurrency=2, endpoint="strix", mode="whole",
                             options={"x": "1"})
    run = next(a for a in p._subparsers._group_actions[0].choices["run"]._actions  # type: ignore[union-attr]
               if a.dest == "max_tokens")
    assert run.default is None  # unset: the benchmark's own default applies
    defaults = run_request(p.parse_args(["run", "--model", "m"]))
    assert defaults == RunRequest(model="m", benchmark="humaneval")


def test_every_benchmark_declares_what_the_seam_needs() -> None:
    for name in benchmark_ids():
        bench = get_benchmark(name)
        assert isinstance(bench, BenchmarkBase)
        info = bench.info()
        assert info.id == name and info.options["type"] == "object"
        # the images it builds, or (the published SWE-bench sets) the ones it pulls, which
        # its footprint declares; a set whose tasks are the user's (harbor-tasks) has
        # neither before its folder is named, and its readiness says so
        declared = bench.images() or bench.footprint()
        assert pipeline_for(bench) is not None and (declared or bench.readiness()), name
        if bench.main_option:
            assert bench.main_option in info.options["properties"]
        assert bench.brief().ready == (bench.readiness() is None)


def test_results_show_0_prints_the_summary_without_samples(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings(tmp_path, "http://127.0.0.1:9/v1")
    db = make_engine(settings.database_url)
    rid = seed_run(db, "m", "humaneval", passes("HumanEval/", 5, 3))
    monkeypatch.setenv("BENCHDOCK_HOME", str(tmp_path))
    monkeypatch.delenv("BENCHDOCK_DATABASE_URL", raising=False)
    assert main(["results", rid, "--show", "0"]) == 0
    out = capsys.readouterr().out
    assert f"run {rid}" in out and "pass@1" in out and "HumanEval/0" not in out
    assert main(["results", rid, "--show", "2"]) == 0
    assert "HumanEval/0" in capsys.readouterr().out


def test_a_store_from_before_the_seam_reads_and_migrates(tmp_path: Path) -> None:
    """Runs stored with BFCL's `bfcl_mode` and aider's `aider_edit_format` keys read as
    `options` after migration 0005; their figures render through the declarations."""
    db = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    old = {"bfcl": {"temperature": 0.0, "max_tokens": 768, "bfcl_mode": "native",
                    "bfcl_mode_reason": "auto: the endpoint answered a probe"},
           "aider": {"temperature": 0.0, "max_tokens": 768, "aider_edit_format": None,
                     "aider_edit_format_reason": "auto: aider's default for the model"}}
    metrics = {"bfcl": {"bfcl": {"mode": "native", "per_category": {"simple_python": {
        "accuracy": 0.5, "ci95": [0.1, 0.9], "n": 2, "correct": 1}}}},
               "aider": {"aider": {"edit_format": "whole", "overall": None, "per_language": {}}}}
    ids = {}
    for kind, bench in (("bfcl", "bfcl-simple"), ("aider", "aider-polyglot-python")):
        ids[kind] = seed_run(db, "m", bench, {"t0": True, "t1": False}, params=old[kind])
        q.finish_run(db, ids[kind], "succeeded", metrics=metrics[kind])
    with Session(db) as s:  # as a store made before 0005 would be
        s.execute(text("DELETE FROM schemamigration WHERE name = '0005_run_options'"))
        s.commit()
    assert migrate(db) == ["0005_run_options"]
    bfcl, aider = q.get_run(db, ids["bfcl"]), q.get_run(db, ids["aider"])
    assert bfcl is not None and aider is not None
    assert bfcl.params["options"] == {"mode": "native"} and "bfcl_mode" not in bfcl.params
    assert bfcl.params["options_reason"] == "auto: the endpoint answered a probe"
    assert aider.params["options"] == {"edit_format": None}
    assert "aider_edit_format_reason" not in aider.params
    assert migrate(db) == []  # once
    from benchdock.harnesses.service.operations import results

    tables = results(db, ids["bfcl"], limit=0).tables
    assert tables and tables[0].title == "BFCL, native mode"
    assert tables[0].rows == [["simple_python", "0.500", "[0.100, 0.900]", "1/2"]]


def _install_plugin(target: Path) -> dict[str, str]:
    # as a user would: pip builds it (setuptools from the package index) and installs it;
    # from a copy, since pip builds a local tree in place
    source = target.parent / "plugin-source"
    shutil.copytree(PLUGIN, source)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(target), str(source)], check=True, timeout=300, capture_output=True)
    path = os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, "PYTHONPATH": path}


def test_a_plugin_benchmark_is_listed_scored_and_its_contract_holds(tmp_path: Path) -> None:
    """Installing a package that publishes a benchmark under `benchdock.benchmarks` makes
    it appear, with no change to benchdock; it passes the contract every benchmark passes."""
    env = _install_plugin(tmp_path / "site")
    env["BENCHDOCK_HOME"] = str(tmp_path / "home")
    exe = str(Path(sys.executable).with_name("benchdock"))
    listed = subprocess.run([exe, "benchmarks"], env=env, capture_output=True, text=True,
                            timeout=120, check=True).stdout
    assert "arith" in listed and "Arithmetic as Python expressions" in listed
    described = json.loads(subprocess.run([exe, "benchmarks", "arith"], env=env,
                                          capture_output=True, text=True, timeout=120,
                                          check=True).stdout)
    assert described["dimensions"] == ["generation"] and described["task_count"] == 5
    contract = (
        "from benchdock.harnesses.contract.registry import get_benchmark\n"
        "from benchdock.harnesses.sandbox import open_sandbox\n"
        "b = get_benchmark('arith')\n"
        "with open_sandbox('local', 'unused', 1) as sb:\n"
        "    for t in b.tasks():\n"
        "        assert b.score(t, b.extract(t, b.reference(t)), sb).verdict == 'pass', t\n"
        "        assert b.score(t, '41 - 1000', sb).verdict == 'fail', t\n"
        "print('contract holds')\n")
    out = subprocess.run([sys.executable, "-c", contract], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0 and "contract holds" in out.stdout, out.stderr[-2000:]


def test_a_plugin_benchmark_runs_end_to_end_and_is_compared(tmp_path: Path,
                                                            endpoint_url: str) -> None:
    """Through the real CLI, worker and endpoint: the plugin's run succeeds, every task has a
    verdict, and compare_dimensions counts it for the dimension it declares."""
    env = _install_plugin(tmp_path / "site")
    env.update(BENCHDOCK_HOME=str(tmp_path / "home"), BENCHDOCK_ENDPOINTS=endpoint_url,
               BENCHDOCK_SANDBOX="local")
    env.pop("BENCHDOCK_DATABASE_URL", None)
    exe = str(Path(sys.executable).with_name("benchdock"))
    run = subprocess.run([exe, "run", "arith", "--model", "smollm2-135m", "--max-tokens", "64",
                          "--show", "5"], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "arith -> succeeded (5/5 samples" in run.stdout
    cmp = subprocess.run([exe, "compare", "smollm2-135m"], env=env, capture_output=True,
                         text=True, timeout=300)
    assert cmp.returncode == 0, cmp.stderr[-2000:]
    assert "generation" in cmp.stdout
    db = make_engine(f"sqlite:///{tmp_path / 'home' / 'benchdock.db'}")
    from benchdock.store.evidence import evidence_rows, summaries

    runs = {s.run_id: s for s in summaries(db, ["smollm2-135m"])}
    assert {s.benchmark for s in runs.values()} == {"arith"}
    rows = [r for r in evidence_rows(db, list(runs)) if r.dimension == "generation"]
    assert rows and sum(r.n for r in rows) == 5


def test_a_broken_plugin_is_left_out_without_breaking_the_rest(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "broken_bench-0.1.dist-info").mkdir(parents=True)
    (site / "broken_bench-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: broken-bench\nVersion: 0.1\n")
    (site / "broken_bench-0.1.dist-info" / "entry_points.txt").write_text(
        "[benchdock.benchmarks]\nbroken = broken_bench:benchmarks\n")
    (site / "broken_bench.py").write_text("raise ImportError('this plugin is broken')\n")
    env = {**os.environ, "PYTHONPATH": str(site), "BENCHDOCK_HOME": str(tmp_path / "home")}
    out = subprocess.run([str(Path(sys.executable).with_name("benchdock")), "benchmarks"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "humaneval" in out.stdout
    assert "broken" in out.stderr and "failed to load" in out.stderr
