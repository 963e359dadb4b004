"""The local backend: the runner as a plain subprocess of this machine.

Less isolated than Docker (the model's code shares the user's filesystem and network; only
rlimits, a process group and a timeout hold it), so the run records `local` and the docs
say so. Meant for machines without a Docker engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading

from benchdock.harnesses.sandbox.base import RUNNER_SOURCE, Channel, Sandbox

# benchdock's own interpreter comes first: it has what EvalPlus's checker imports.
_PATH = os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"])


class _ProcessChannel(Channel):
    """`argv` defaults to the sandbox runner under benchdock's interpreter."""

    def __init__(self, argv: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="benchdock-sbx-")
        self.proc = subprocess.Popen(
            argv or [sys.executable, "-u", "-c", RUNNER_SOURCE],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={"BENCHDOCK_RUNNER_DIR": self.dir, "PATH": _PATH, "HOME": self.dir,
                 **(env or {})},
            start_new_session=True, cwd=self.dir,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("utf-8", "replace"))
        self.lines.put(None)

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def open_process_channel(argv: list[str], env: dict[str, str]) -> Channel:
    """One subprocess running `argv`, talking JSON lines on stdin/stdout (no isolation
    beyond its own session and working directory)."""
    return _ProcessChannel(argv, env)


class LocalSandbox(Sandbox):
    kind = "local"

    def _open_channel(self) -> Channel:
        return _ProcessChannel()
