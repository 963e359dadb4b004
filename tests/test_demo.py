"""The demo server's death is reported as a death: its signal by name and its log, at start
(the smoke request), in `benchdock run` (while the worker runs the evaluation) and in
`benchdock demo-server`. The server here is a fake llama_cpp.server — a real HTTP server in
a real process that kills itself with a real signal on its first chat completion, as a
llama.cpp build with an instruction the machine faults on does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchdock.harnesses import demo, demo_build
from benchdock.harnesses.config import Settings
from benchdock.harnesses.demo import DemoServer, DemoServerDied, describe_exit, start_demo_server
from benchdock.harnesses.envs import ManagedEnv
from benchdock.server import cli, cli_demo

FAKE_SERVER = '''
import argparse, json, os, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

p = argparse.ArgumentParser()
for a in ("--model", "--host", "--port", "--model_alias", "--n_ctx"):
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
        os.kill(os.getpid(), getattr(signal, os.environ["FAKE_DEMO_DEATH"]))


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


def test_demo_server_command_reports_the_death(tmp_path: Path, fake_env: ManagedEnv) -> None:
    """`benchdock demo-server` in its own process: started (the smoke request kills it), it
    says how the server died and exits non-zero."""
    log = tmp_path / "llama.log"
    env = {**os.environ, "BENCHDOCK_HOME": str(tmp_path / "home"),
           "BENCHDOCK_DEMO_TEST_ENV": fake_env.model_dump_json()}
    code = ("import os, sys; from benchdock.harnesses import demo; "
            "from benchdock.harnesses.envs import ManagedEnv; "
            "e = ManagedEnv.model_validate_json(os.environ['BENCHDOCK_DEMO_TEST_ENV']); "
            "demo.demo_env = lambda *a, **k: e; "
            "from benchdock.server.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "demo-server", "--log", str(log)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "killed by SIGSEGV (signal 11)" in proc.stderr and f"its log: {log}" in proc.stderr


def test_demo_env_refuses_a_build_this_cpu_cannot_run(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setattr(demo_build, "cpu_flags", lambda *_a: {"sse4_2"})
    monkeypatch.setenv("BENCHDOCK_DEMO_CPU", "x86-64-v3")
    monkeypatch.setattr(demo_build, "load", lambda *_a: None)
    with pytest.raises(demo.BenchdockError, match=r"lacks \(avx, avx2, fma, f16c, bmi2\).*SIGILL"):
        demo.demo_env(tmp_path, build=False)
