"""The demo server's death is reported as a death: its signal by name and its log, at start
(the smoke request), in `benchdock run` (while the worker runs the evaluation) and in
`benchdock demo-server`. The server here is a fake llama_cpp.server — a real HTTP server in
a real process that kills itself with a real signal on its first chat completion, as a
llama.cpp build with an instruction the machine faults on does."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from benchdock.harnesses.client import demo, demo_build
from benchdock.harnesses.client.demo import (
    DemoServer,
    DemoServerDied,
    describe_exit,
    start_demo_server,
)
from benchdock.harnesses.config import Settings
from benchdock.harnesses.envs.managed import ManagedEnv
from benchdock.server import cli, cli_demo

FAKE_SERVER = '''
import argparse, json, os, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

p = argparse.ArgumentParser()
for a in ("--model", "--host", "--port", "--model_alias", "--n_ctx", "--interrupt_requests"):
    p.add_argument(a)
args = p.parse_args()
print("fake llama_cpp.server: loading", args.model, flush=True)


class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"object": "list", "data": [{"id": args.model_alias,
                                                       "object": "model"}]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        print("ggml: about to run the first matrix multiplication", flush=True)
        if os.environ.get("FAKE_DEMO_DEATH"):
            os.kill(os.getpid(), getattr(signal, os.environ["FAKE_DEMO_DEATH"]))
        body = json.dumps({"choices": [{"message": {"role": "assistant", "content": "Hi"},
                                        "finish_reason": "length"}]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HTTPServer((args.host, int(args.port)), H).serve_forever()
'''


@pytest.fixture
def fake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ManagedEnv:
    """A demo venv whose llama_cpp.server is the fake above (via PYTHONPATH), dying with
    SIGSEGV unless the test says otherwise."""
    pkgs = tmp_path / "fake-site"
    (pkgs / "llama_cpp" / "server").mkdir(parents=True)
    (pkgs / "llama_cpp" / "__init__.py").write_text("")
    (pkgs / "llama_cpp" / "server" / "__init__.py").write_text("")
    (pkgs / "llama_cpp" / "server" / "__main__.py").write_text(FAKE_SERVER)
    (pkgs / demo_build.MODEL_FILE).parent.mkdir(parents=True)
    (pkgs / demo_build.MODEL_FILE).write_bytes(b"GGUF")
    monkeypatch.setenv("PYTHONPATH", str(pkgs))
    monkeypatch.setenv("FAKE_DEMO_DEATH", "SIGSEGV")
    return ManagedEnv(root=tmp_path, python=Path(sys.executable), base_prefix=Path(sys.base_prefix),
                      site_packages=pkgs, python_version="3")


def test_exit_descriptions_name_the_signal() -> None:
    assert describe_exit(-signal.SIGSEGV) == "killed by SIGSEGV (signal 11)"
    assert describe_exit(-signal.SIGILL) == "killed by SIGILL (signal 4)"
    assert describe_exit(1) == "exited with code 1"
    assert describe_exit(128 + signal.SIGSEGV) == "exited with code 139 (128 + SIGSEGV)"


def test_a_killed_server_is_reported_with_its_signal_and_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import os, signal; print('loading the model', flush=True);"
             " os.kill(os.getpid(), signal.SIGILL)"], stdout=out, stderr=out)
    server = DemoServer(url="http://127.0.0.1:1/v1", proc=proc, log=log)
    proc.wait(timeout=30)
    died = server.death()
    assert died is not None
    assert "killed by SIGILL (signal 4)" in died and str(log) in died
    assert f"pid {proc.pid}" in died and "loading the model" in died
    with pytest.raises(DemoServerDied, match="SIGILL"):
        server.check()


def test_a_crash_on_the_first_inference_is_caught_at_start(tmp_path: Path,
                                                           fake_env: ManagedEnv) -> None:
    log = tmp_path / "demo.log"
    with pytest.raises(DemoServerDied) as err:
        start_demo_server(log=log, env=fake_env, timeout_s=30)
    msg = str(err.value)
    assert "killed by SIGSEGV (signal 11)" in msg and f"its log: {log}" in msg
    # faulthandler's traceback and the server's own last words are in the log and the message
    assert "Fatal Python error: Segmentation fault" in log.read_text()
    assert "about to run the first matrix multiplication" in msg


def test_benchdock_run_stops_with_the_death_not_a_connect_error(
        tmp_path: Path, fake_env: ManagedEnv, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The demo dies after it started (no smoke request here), while the worker process is
    asking it for the first answer: `benchdock run` names the signal and the log."""
    monkeypatch.setenv("BENCHDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BENCHDOCK_SANDBOX", "local")
    for var in ("BENCHDOCK_ENDPOINTS", "BENCHDOCK_CONFIG", "BENCHDOCK_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)

    real, calls = cli.service.list_models, []

    async def nothing_answers_at_first(settings: Settings, endpoint: str | None = None) -> Any:
        calls.append(endpoint)  # cmd_run's look for an endpoint finds none: the demo starts
        return [] if len(calls) == 1 else await real(settings, endpoint)

    monkeypatch.setattr(cli.service, "list_models", nothing_answers_at_first)
    monkeypatch.setattr(cli_demo, "start_demo_server",
                        lambda log, say: start_demo_server(log=log, env=fake_env, smoke=False))
    monkeypatch.setenv("FAKE_DEMO_DEATH", "SIGILL")
    code = cli.main(["run", "humaneval", "--limit", "1"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "killed by SIGILL (signal 4)" in err
    assert f"its log: {tmp_path / 'home' / 'demo-server.log'}" in err
    assert "is cancelled" in err and "ConnectError" not in err


# `benchdock demo-server` in a process of its own, with the fake venv in place of the build
DEMO_SERVER = ("import os, sys; from benchdock.harnesses.client import demo; "
               "from benchdock.harnesses.envs.managed import ManagedEnv; "
               "e = ManagedEnv.model_validate_json(os.environ['BENCHDOCK_DEMO_TEST_ENV']); "
               "demo.demo_env = lambda *a, **k: e; "
               "from benchdock.server.cli import main; sys.exit(main(sys.argv[1:]))")


def _demo_server_env(tmp_path: Path, fake_env: ManagedEnv) -> dict[str, str]:
    return {**os.environ, "BENCHDOCK_HOME": str(tmp_path / "home"),
            "BENCHDOCK_DEMO_TEST_ENV": fake_env.model_dump_json()}


def test_demo_server_command_reports_the_death(tmp_path: Path, fake_env: ManagedEnv) -> None:
    """Started, the smoke request kills the server: `benchdock demo-server` says how it died
    and exits non-zero."""
    log = tmp_path / "llama.log"
    proc = subprocess.run([sys.executable, "-c", DEMO_SERVER, "demo-server", "--log", str(log)],
                          env=_demo_server_env(tmp_path, fake_env), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "killed by SIGSEGV (signal 11)" in proc.stderr and f"its log: {log}" in proc.stderr


def test_demo_server_command_stops_its_server_on_sigterm(
        tmp_path: Path, fake_env: ManagedEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM (what `.ci/run` sends at exit) stops the server and reaps it, promptly."""
    monkeypatch.setenv("FAKE_DEMO_DEATH", "")
    proc = subprocess.Popen([sys.executable, "-c", DEMO_SERVER, "demo-server", "--log",
                             str(tmp_path / "llama.log")], env=_demo_server_env(tmp_path, fake_env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server_pid = None
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()  # printed once the smoke request was answered
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else ""
        said = re.search(r"\(pid (\d+)\)", _read_until(proc, "serving"))
        assert said is not None
        server_pid = int(said.group(1))
        time.sleep(1)  # now blocked waiting for the server: where a handler could deadlock
        proc.send_signal(signal.SIGTERM)
        # a deadlock never ends; on a loaded machine the server's own exit (it gets SIGTERM,
        # then SIGKILL after DemoServer.stop's 30 s) can take tens of seconds
        assert proc.wait(timeout=90) == 128 + signal.SIGTERM
        assert not Path(f"/proc/{server_pid}").exists()  # reaped, not a zombie
    finally:
        proc.kill()
        proc.wait()
        if server_pid and Path(f"/proc/{server_pid}").exists():
            os.kill(server_pid, signal.SIGKILL)


def _read_until(proc: subprocess.Popen[str], word: str) -> str:
    assert proc.stderr is not None
    for line in proc.stderr:
        if word in line:
            return line
    raise AssertionError(f"{word!r} never said")


def test_demo_env_refuses_a_build_this_cpu_cannot_run(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setattr(demo_build, "cpu_flags", lambda *_a: {"sse4_2"})
    monkeypatch.setenv("BENCHDOCK_DEMO_CPU", "x86-64-v3")
    monkeypatch.setattr(demo_build, "load", lambda *_a: None)
    with pytest.raises(demo.BenchdockError, match=r"lacks \(avx, avx2, fma, f16c, bmi2\).*SIGILL"):
        demo.demo_env(tmp_path, build=False)


def test_failing_tests_learn_that_ci_s_demo_server_died(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """`.ci/run`'s server (BENCHDOCK_TEST_ENDPOINT_PID/_LOG): alive, nothing is said; gone,
    its log's last lines — `benchdock demo-server`'s own report of the signal — are."""
    from tests import conftest
    from tests.conftest import demo_death

    monkeypatch.setattr(conftest, "_DEMO", [])  # as when the session started no demo itself
    log = tmp_path / "demo-server.log"
    log.write_text("benchdock: the demo server (pid 7) killed by SIGSEGV (signal 11); its log: x\n")
    monkeypatch.setenv("BENCHDOCK_TEST_ENDPOINT_LOG", str(log))
    monkeypatch.setenv("BENCHDOCK_TEST_ENDPOINT_PID", str(os.getpid()))
    assert demo_death() is None
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    monkeypatch.setenv("BENCHDOCK_TEST_ENDPOINT_PID", str(gone.pid))
    died = demo_death()
    assert died is not None and f"pid {gone.pid}" in died and str(log) in died
    assert "killed by SIGSEGV (signal 11)" in died
