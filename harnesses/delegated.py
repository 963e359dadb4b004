"""Benchmarks whose reference harness does the asking and the judging itself (BFCL's own
handler and checker; aider later), while benchdock keeps the run: the store, caching,
resumption, cancellation and progress.

The harness runs in a process of its own (its own environment, in the sandbox), talks to
the model only through benchdock's recording proxy, and answers one sample at a time with a
`SampleOutcome`. `RpcChannel` is the JSON-lines conversation with that process.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from abc import abstractmethod
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field

from benchdock.harnesses.base import BenchmarkBase, Task, VerdictName
from benchdock.harnesses.config import EndpointConfig, Settings
from benchdock.harnesses.sandbox.base import Channel, SandboxError
from benchdock.store.models import Run, Sample

log = logging.getLogger("benchdock.delegated")


class SampleOutcome(BaseModel):
    completion: str = Field(description="The model's raw output, as the harness kept it")
    code: str | None = Field(default=None, description="What was decoded from it (calls, edits)")
    verdict: VerdictName
    detail: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class SessionContext(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    settings: Settings
    run: Run
    proxy_socket: Path
    threads: int


class HarnessSession:
    """The reference harness, live for one run."""

    sandbox_kind: str = "local"
    isolation: str | None = None  # what confines the harness's process (recorded in the run)

    @abstractmethod
    async def solve(self, task: Task, tag: str) -> SampleOutcome: ...

    async def summarise(self, samples: list[Sample]) -> dict[str, Any]:
        """Metrics beyond pass@1 (per category, the harness's own aggregate)."""
        return {}

    @abstractmethod
    def close(self) -> None: ...


class DelegatedBenchmark(BenchmarkBase):
    @abstractmethod
    def open_session(self, ctx: SessionContext) -> HarnessSession:
        """Start the harness (blocking; called in a thread)."""

    async def configure(self, endpoint: EndpointConfig, model: str,
                        options: dict[str, Any]) -> dict[str, Any]:
        """Run settings decided when the run is queued (e.g. how to ask the model); they
        are stored with the run's params."""
        return {}


class RpcChannel:
    """Requests with ids over a channel, answered in any order by a multi-threaded peer."""

    def __init__(self, channel: Channel, init: dict[str, Any], start_timeout: float) -> None:
        self.channel = channel
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        channel.send((json.dumps(init) + "\n").encode())
        try:
            hello = self._next(start_timeout)
        except (TimeoutError, SandboxError) as exc:
            channel.close()
            raise SandboxError(f"the harness process did not start: {exc}") from exc
        if not hello.get("ready"):
            channel.close()
            raise SandboxError(f"the harness process failed to start: {hello.get('error')}\n"
                               f"{hello.get('traceback', '')}")
        self.hello = hello
        threading.Thread(target=self._dispatch, daemon=True).start()

    def _next(self, timeout: float) -> dict[str, Any]:
        while True:
            msg = self.channel.read(timeout)
            if isinstance(msg, dict):
                return msg

    def _dispatch(self) -> None:
        while True:
            line = self.channel.lines.get()
            if line is None:
                break
            try:
                msg = json.loads(line)
                fut = self._pending.pop(int(msg["id"]))
            except (ValueError, KeyError, TypeError):
                log.debug("harness said: %s", line[:200])
                continue
            fut.set_result(msg)
        with self._lock:
            waiting, self._pending = list(self._pending.values()), {}
        for fut in waiting:
            fut.set_exception(SandboxError("the harness process exited"))

    def call(self, op: str, timeout: float, **args: Any) -> dict[str, Any]:
        rid = next(self._ids)
        fut: Future[dict[str, Any]] = Future()
        with self._lock:
            self._pending[rid] = fut
        self.channel.send((json.dumps({"id": rid, "op": op, **args}) + "\n").encode())
        reply = fut.result(timeout=timeout)
        if "bridge_error" in reply:
            raise SandboxError(f"harness error in {op}: {reply['bridge_error']}\n"
                               f"{reply.get('traceback', '')}")
        return reply

    async def acall(self, op: str, timeout: float, **args: Any) -> dict[str, Any]:
        def blocking() -> dict[str, Any]:
            return self.call(op, timeout, **args)

        return await anyio.to_thread.run_sync(blocking, abandon_on_cancel=True)

    def close(self) -> None:
        self.channel.close()
