"""The sandbox contract and the part both backends share: a pool of runner channels."""

from __future__ import annotations

import base64
import itertools
import json
import queue
import threading
from abc import ABC, abstractmethod
from importlib import resources

from pydantic import BaseModel

RUNNER_SOURCE = resources.files("benchdock.harnesses.sandbox").joinpath("runner.py").read_text()
GRACE_S = 15.0


class SandboxError(RuntimeError):
    """The sandbox itself could not run (no engine, no image, runner died): a run error."""


class ExecResult(BaseModel):
    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    duration_s: float
    truncated: bool


class Channel(ABC):
    """One live runner: a container or a subprocess reading JSON jobs line by line."""

    def __init__(self) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()

    @abstractmethod
    def send(self, data: bytes) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    def request(self, job: dict[str, object], timeout: float) -> dict[str, object]:
        self.send((json.dumps(job) + "\n").encode())
        return self.read(timeout)

    def read(self, timeout: float) -> dict[str, object]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"runner gave no answer within {timeout:.0f}s") from None
        if line is None:
            raise SandboxError("the sandbox runner exited unexpectedly")
        reply: dict[str, object] = json.loads(line)
        return reply


class Sandbox(ABC):
    """A pool of `size` runners; `execute` is thread-safe and blocks for a free runner."""

    kind: str = "abstract"

    def __init__(self, size: int = 2) -> None:
        self.size = max(1, size)
        self._free: queue.Queue[Channel] = queue.Queue()
        self._all: list[Channel] = []
        self._lib: dict[str, bytes] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._closed = False

    @abstractmethod
    def _open_channel(self) -> Channel: ...

    def start(self) -> Sandbox:
        for _ in range(self.size):
            self._free.put(self._new_channel())
        return self

    def _new_channel(self) -> Channel:
        ch = self._open_channel()
        try:
            ready = ch.read(60)
            if not ready.get("ready"):
                raise SandboxError(f"runner did not start: {ready}")
            if self._lib:
                ch.request({"id": -1, "op": "lib", "files": _b64(self._lib)}, 60)
        except (TimeoutError, SandboxError) as exc:
            ch.close()
            raise SandboxError(f"{self.kind} sandbox runner failed to start: {exc}") from exc
        with self._lock:
            self._all.append(ch)
        return ch

    def install_lib(self, files: dict[str, bytes]) -> None:
        """Put importable modules on every runner's PYTHONPATH (e.g. EvalPlus's checker)."""
        self._lib.update(files)
        chans = [self._free.get() for _ in range(self.size)]
        try:
            for ch in chans:
                ch.request({"id": -1, "op": "lib", "files": _b64(files)}, 60)
        finally:
            for ch in chans:
                self._free.put(ch)

    def execute(
        self,
        files: dict[str, bytes],
        argv: list[str],
        timeout_s: float,
        *,
        stdin: str | None = None,
        mem_bytes: int | None = None,
        max_output: int = 16384,
    ) -> ExecResult:
        if self._closed:
            raise SandboxError("the sandbox is closed")
        ch = self._free.get()
        job = {
            "id": next(self._ids), "files": _b64(files), "argv": argv, "timeout": timeout_s,
            "stdin": stdin, "mem_bytes": mem_bytes, "max_output": max_output,
        }
        try:
            reply = ch.request(job, timeout_s + GRACE_S)
        except (TimeoutError, SandboxError, OSError) as exc:
            self._discard(ch)
            if self._closed:
                raise SandboxError("the sandbox was closed during execution") from exc
            self._free.put(self._new_channel())
            if isinstance(exc, TimeoutError):
                return ExecResult(exit_code=None, stdout="", stderr=f"sandbox runner hung: {exc}",
                                  timed_out=True, duration_s=timeout_s + GRACE_S, truncated=False)
            raise SandboxError(f"{self.kind} sandbox failed: {exc}") from exc
        self._free.put(ch)
        if "runner_error" in reply:
            raise SandboxError(f"runner error: {reply['runner_error']}")
        return ExecResult.model_validate(reply)

    def _discard(self, ch: Channel) -> None:
        with self._lock:
            if ch in self._all:
                self._all.remove(ch)
        ch.close()

    def close(self) -> None:
        self._closed = True
        with self._lock:
            chans, self._all = list(self._all), []
        for ch in chans:
            ch.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _b64(files: dict[str, bytes]) -> dict[str, str]:
    return {k: base64.b64encode(v).decode() for k, v in files.items()}
