"""Harbor's task format as benchdock reads it: the fields it enforces, what it refuses (with
the field named), reward files as Harbor reads them; and, through Harbor's own reader in
the harbor venv, that benchdock's local tasks and the documentation-shaped fixture are
Harbor tasks."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from benchdock.harnesses.benchmarks.terminalbench.sources import LOCAL_COUNT, LocalSet
from benchdock.harnesses.benchmarks.terminalbench.taskfmt import (
    TaskFormatError,
    load_task,
    load_tasks,
    strip_canary,
)
from benchdock.harnesses.benchmarks.terminalbench.verify import parse_reward
from tests.conftest import make_settings

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "harbor-tasks"


def task_dir(tmp_path: Path, toml: str, files: dict[str, str] | None = None) -> Path:
    d = tmp_path / "t1"
    (d / "tests").mkdir(parents=True)
    (d / "environment").mkdir()
    (d / "instruction.md").write_text("do it\n")
    (d / "tests" / "test.sh").write_text("#!/bin/bash\necho 1 > /logs/verifier/reward.txt\n")
    (d / "environment" / "Dockerfile").write_text("FROM scratch\n")
    (d / "task.toml").write_text(toml)
    for name, text in (files or {}).items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text)
    return d


def test_the_documentation_shaped_fixture_reads_with_its_deprecated_fields() -> None:
    (t,) = load_tasks(FIXTURES)
    assert t.name == "hello-world" and t.docker_image == "benchdock-tbench-base:1"
    assert t.memory_mb == 2048 and t.storage_mb == 10240 and t.cpus == 1.0
    assert t.network == "no-network" and t.agent_timeout_s == 120.0
    assert t.verifier_env == {"GREETING": "Hello, world!"}
    assert t.instruction.startswith("Create a file called `hello.txt`")  # canary dropped


def test_the_local_set_reads_and_every_task_is_offline(tmp_path: Path) -> None:
    tasks = LocalSet().load(make_settings(tmp_path, "http://fake/v1"))
    assert len(tasks) == LOCAL_COUNT
    for t in tasks:
        assert t.network == "no-network" and t.docker_image is None
        assert t.dockerfile.read_text().startswith("FROM benchdock-tbench-base:1")
        assert t.solve_script.is_file() and (t.tests_dir / "test.sh").is_file()
        assert 60 <= t.agent_timeout_s <= 1800 and t.memory_mb <= 2048


@pytest.mark.parametrize(("toml", "files", "named"), [
    ('[environment]\nnetwork_mode = "allowlist"\n', {}, "allowlist"),
    ('[environment]\nnetwork_mode = "lan"\n', {}, "'lan'"),
    ("[[steps]]\nname = 'a'\n", {}, "[[steps]]"),
    ('[verifier]\nenvironment_mode = "separate"\n', {}, "separate"),
    ("[environment]\ngpus = 1\n", {}, "gpus"),
    ('[environment]\nos = "windows"\n', {}, "os"),
    ("[agent]\ntimeout_sec = -5\n", {}, "timeout_sec"),
    ('[environment]\nmemory = "lots"\n', {}, "memory"),
    ("", {"environment/docker-compose.yaml": "services: {}\n"}, "docker-compose.yaml"),
    ('[verifier]\nenv = { KEY = "${BENCHDOCK_SURELY_UNSET_VAR}" }\n', {},
     "BENCHDOCK_SURELY_UNSET_VAR"),
    ("not toml [", {}, "not valid TOML"),
])
def test_what_benchdock_cannot_run_faithfully_is_refused_naming_the_field(
        tmp_path: Path, toml: str, files: dict[str, str], named: str) -> None:
    with pytest.raises(TaskFormatError) as err:
        load_task(task_dir(tmp_path, toml, files))
    assert named in str(err.value)


def test_defaults_and_network_precedence(tmp_path: Path) -> None:
    t = load_task(task_dir(tmp_path, '[agent]\nnetwork_mode = "no-network"\n'
                                     "[environment]\nallow_internet = true\n"))
    assert t.network == "no-network"  # [agent] overrides the environment's
    assert t.agent_timeout_s == 900.0 and t.verifier_timeout_s == 600.0
    assert t.memory_mb == 2048 and t.cpus == 1.0
    shutil.rmtree(tmp_path / "t1")
    t = load_task(task_dir(tmp_path, "[environment]\nworkdir = '/srv'\n"
                                     "env = { A = '${NOPE_UNSET:-fallback}' }\n"))
    assert t.network == "public" and t.workdir == "/srv" and t.env == {"A": "fallback"}


def test_a_missing_test_script_or_environment_is_named(tmp_path: Path) -> None:
    d = task_dir(tmp_path, "")
    (d / "environment" / "Dockerfile").unlink()
    with pytest.raises(TaskFormatError, match="docker_image"):
        load_task(d)
    (d / "tests" / "test.sh").unlink()
    with pytest.raises(TaskFormatError, match=r"tests/test\.sh"):
        load_task(d)


def test_strip_canary() -> None:
    assert strip_canary("# canary GUID x\n<!-- canary -->\n\nDo it.\n") == "Do it.\n"
    assert strip_canary("Do it.\n# canary later\n") == "Do it.\n# canary later\n"


@pytest.mark.parametrize(("files", "reward", "why"), [
    ({"reward.txt": b"1\n"}, 1.0, None),
    ({"reward.txt": b"0.5"}, 0.5, None),
    ({"reward.json": b'{"reward": 1, "x": 0}', "reward.txt": b"0"}, 1.0, None),  # json first
    ({"reward.json": b'{"a": 1, "b": 0}'}, 0.5, None),
    ({"reward.json": b"1.0"}, 1.0, None),
    ({"reward.json": b'{"reward": "1"}'}, None, "non-numeric"),
    ({"reward.json": b'{"reward": NaN}'}, None, "non-numeric"),
    ({"reward.txt": b"yes"}, None, "not a number"),
    ({"reward.txt": b"inf"}, None, "not finite"),
    ({"test-stdout.txt": b"ok"}, None, "no /logs/verifier/reward.txt"),
])
def test_rewards_are_read_as_harbor_reads_them(files: dict[str, bytes], reward: float | None,
                                               why: str | None) -> None:
    got, _, failure = parse_reward(files)
    assert got == reward
    assert (failure is None) if why is None else (failure is not None and why in failure)


def test_harbors_own_reader_accepts_the_local_tasks_and_the_fixture(tmp_path: Path) -> None:
    """Harbor 0.25.0's `Task` (in the harbor venv) loads every folder benchdock ships or
    tests with, and reads the same timeouts and network policy benchdock does."""
    from tests.support.tbench_support import tbench_ready

    tbench_ready()
    from benchdock.harnesses.benchmarks.terminalbench.environment import load_env
    from benchdock.harnesses.config import default_envs_dir

    python = load_env(default_envs_dir()).python
    folders = [t.path for t in LocalSet().load(make_settings(tmp_path, "http://fake/v1"))] + [
        FIXTURES / "hello-world"]
    script = ("import json, sys, warnings\nwarnings.simplefilter('ignore')\n"
              "from harbor.models.task.task import Task\nout = {}\n"
              "for p in sys.argv[1:]:\n    c = Task(p).config\n"
              "    out[p] = [c.agent.timeout_sec, c.verifier.timeout_sec,\n"
              "              c.environment.network_mode.value, c.environment.memory_mb]\n"
              "print(json.dumps(out))\n")
    done = subprocess.run([str(python), "-c", script, *map(str, folders)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    harbor = json.loads(done.stdout)
    for folder in folders:
        ours = load_task(folder)
        a, v, net, mem = harbor[str(folder)]
        assert (a, v, mem) == (ours.agent_timeout_s, ours.verifier_timeout_s, ours.memory_mb)
        assert net == ours.network


def test_terminal_bench_footprint_before_and_after_its_tasks_are_here(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plan or dry run says what TB 2.0 pulls before anything is downloaded (its 89 images
    at the stated per-image assumption), and names the images once the tasks are here."""
    from benchdock.harnesses.contract.registry import get_benchmark

    monkeypatch.delenv("BENCHDOCK_TERMINAL_BENCH_DIR", raising=False)
    bench = get_benchmark("terminal-bench", make_settings(tmp_path, "http://fake/v1"))
    assert bench.readiness() is not None and bench.nominal_tasks == 89
    fp = bench.footprint()
    assert fp is not None and fp.items == 89 and fp.present == 0
    assert fp.download_gb == pytest.approx(89 * 0.6, abs=0.1)
    assert fp.disk_gb == pytest.approx(89 * 1.5 + 3.0, abs=0.1)
    assert "assumed" in fp.basis and "BENCHDOCK_TBENCH_IMAGE_GB" in fp.basis
    tb = tmp_path / "tb2"
    for i in range(3):
        d = task_dir(tb / f"task-{i}", f'[environment]\ndocker_image = "example/tb-{i}:1"\n')
        d.rename(tb / f"task-{i}-x")
    monkeypatch.setenv("BENCHDOCK_TERMINAL_BENCH_DIR", str(tb))
    bench = get_benchmark("terminal-bench", make_settings(tmp_path, "http://fake/v1"))
    assert [t.id for t in bench.tasks()] == ["task-0-x", "task-1-x", "task-2-x"]
    fp = bench.footprint(2)
    assert fp is not None and fp.items == 2 and fp.examples == ["example/tb-0:1",
                                                                 "example/tb-1:1"]
    assert fp.download_gb == pytest.approx(1.2, abs=0.05)
