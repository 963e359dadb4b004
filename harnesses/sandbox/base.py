"""The sandbox contract and the part both backends share: a pool of runner channels."""

from __future__ import annotations

import base64
import itertools
import json
import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from importlib import resources

from pydantic import BaseModel

log = logging.getLogger("benchdock.sandbox")
RUNNER_SOURCE = resources.files("benchdock.harnesses.sandbox").joinpath("runner.py").read_text()
GRACE_S = 15.0
# the niceness of jobs run while the model generates: CFS then gives a job ~1.5 % of a core
# that a nice-0 model thread wants, and all of a core it leaves idle
BACKGROUND_NICE = 19


class SandboxError(RuntimeError):
    """The sandbox itself could not run (no engine, no image, runner died): a run error."""


class ExecResult(BaseModel):
    """What one job did. `verdict` is what the job's trusted judge wrote on its private fd 3
    (only with `verdict_channel`): the one part of a result the code under test cannot forge.
    `fault` is set when the sandbox itself broke during the job (its runner died or hung):
    the pool has replaced it, and the job's sample gets an error verdict with this reason."""

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    duration_s: float
    truncated: bool
    verdict: str | None = None
    verdict_truncated: bool = False
    fault: str | None = None
    retried: str | None = None  # the first attempt's runner broke (why): this is the rerun


class _Fault(str):
    """Why a runner broke during a job (`hung`: it gave no answer in time)."""

    hung: bool

    def __new__(cls, why: str, hung: bool) -> _Fault:
        self = super().__new__(cls, why)
        self.hung = hung
        return self


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
        reply = json.loads(line)
        if not isinstance(reply, dict):
            raise ValueError(f"not a JSON object: {line[:100]!r}")
        return reply


class Sandbox(ABC):
    """A pool of `size` runners; `execute` is thread-safe and blocks for a free runner."""

    kind: str = "abstract"
    isolation: str = ""  # what confines the code, in words (recorded in each run)

    def __init__(self, size: int = 2) -> None:
        self.size = max(1, size)
        # jobs yield the CPU (to a model generating on the same machine) while this is set
        self.background = False
        self._free: queue.Queue[Channel] = queue.Queue()
        self._all: list[Channel] = []
        self._lib: dict[str, bytes] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._closed = False
        # why a runner broke during a job that then ran again on a fresh one (the run counts them)
        self.retries: list[str] = []

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

    def set_background(self, on: bool) -> None:
        """Run later jobs at low CPU priority (`on`) or at the normal one. Time limits are
        wall-clock: a job that timed out in the background may have been starved, and its
        caller should run it again in the foreground before calling it a timeout."""
        self.background = on

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
        verdict_channel: bool = False,
    ) -> ExecResult:
        """Run one job. A runner that dies, hangs or garbles its stream during a job is
        replaced and the job runs again on the fresh one: only a failure that reproduces is
        the job's (`fault`, "reproduced"), so a runner killed from outside (or an
        infrastructure fault) never becomes the sample's verdict. After a reproduced fault a
        trivial job checks the sandbox itself; when that fails too the sandbox is broken and
        `SandboxError` ends the run with the cause. Only a sandbox that cannot be replaced
        raises `SandboxError` otherwise."""
        if self._closed:
            raise SandboxError("the sandbox is closed")
        job = {
            "files": _b64(files), "argv": argv, "timeout": timeout_s,
            "stdin": stdin, "mem_bytes": mem_bytes, "max_output": max_output,
            "verdict_fd": verdict_channel, "nice": BACKGROUND_NICE if self.background else 0,
        }
        t0 = time.monotonic()
        first, fresh = self._attempt(self._free.get(), job)
        if isinstance(first, ExecResult):
            return first
        log.warning("%s sandbox: %s; running the job again on a fresh runner", self.kind, first)
        self.note_retry(str(first))
        again, fresh = self._attempt(fresh, job)
        if isinstance(again, ExecResult):
            again.retried = first
            return again
        self._check_health(fresh, again)
        return ExecResult(exit_code=None, stdout="", stderr="", timed_out=again.hung,
                          duration_s=time.monotonic() - t0, truncated=False,
                          fault=f"{again}; reproduced on a fresh runner", retried=str(first))

    def note_retry(self, why: str) -> None:
        """Count a job run again because something broke under it (the run reports these)."""
        with self._lock:
            self.retries.append(why)

    def _attempt(self, ch: Channel, job: dict[str, object]) -> tuple[ExecResult | _Fault, Channel]:
        """Run `job` on runner `ch`: its result and the runner back in the pool, or why the
        runner broke and a fresh runner (not in the pool) in its place."""
        job = {**job, "id": next(self._ids)}
        try:
            reply = ch.request(job, float(job["timeout"]) + GRACE_S)  # type: ignore[arg-type]
            if reply.get("id") != job["id"]:  # only the runner writes this stream
                raise SandboxError(f"a reply that is not the runner's (id {reply.get('id')!r})")
            result = None if "runner_error" in reply else ExecResult.model_validate(reply)
        except (TimeoutError, SandboxError, OSError, ValueError) as exc:
            fresh = self._replace(ch, exc)
            hung = isinstance(exc, TimeoutError)
            if hung:
                why = f"the {self.kind} sandbox's runner hung during this job ({exc})"
            elif isinstance(exc, ValueError):
                why = (f"the {self.kind} sandbox's runner stream carried something that is not "
                       f"the runner's reply ({type(exc).__name__}: {str(exc)[:200]})")
            else:
                why = (f"the {self.kind} sandbox's runner died during this job ({exc}): the "
                       "code killed it or exhausted the sandbox")
            return _Fault(why, hung), fresh
        if "runner_error" in reply:
            self._free.put(self._replace(ch, SandboxError(str(reply["runner_error"]))))
            raise SandboxError(f"runner error: {reply['runner_error']}")
        if reply.get("recycle"):  # the job left something behind: never reuse this runner
            self._free.put(self._replace(ch, SandboxError(str(reply["recycle"]))))
        else:
            self._free.put(ch)
        assert result is not None
        return result, ch

    def _check_health(self, ch: Channel, fault: _Fault) -> None:
        """After a fault that reproduced: a trivial job on a fresh runner. If even that
        fails, the sandbox is what breaks (not the sample's code): `SandboxError`."""
        canary = {"id": next(self._ids), "files": {}, "argv": ["python3", "-c", "pass"],
                  "timeout": 30.0, "max_output": 1024}
        try:
            reply = ch.request(canary, 30.0 + GRACE_S)
            ok = reply.get("id") == canary["id"] and reply.get("exit_code") == 0
        except (TimeoutError, SandboxError, OSError, ValueError) as exc:
            ok, reply = False, {"error": repr(exc)}
        if ok and not reply.get("recycle"):
            self._free.put(ch)
            return
        self._discard(ch)
        raise SandboxError(
            f"the {self.kind} sandbox keeps failing: {fault}, twice, and then a trivial job "
            f"failed on a fresh runner too ({str(reply)[:200]})")

    def _replace(self, ch: Channel, exc: BaseException) -> Channel:
        """Throw a runner away and start a fresh one, returned to the caller (who puts it
        in the pool); `SandboxError` if no fresh runner can start."""
        self._discard(ch)
        if self._closed:
            raise SandboxError("the sandbox was closed during execution") from exc
        try:
            return self._new_channel()
        except SandboxError as err:
            raise SandboxError(f"{self.kind} sandbox broke ({exc}) and could not be "
                               f"replaced: {err}") from err

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
