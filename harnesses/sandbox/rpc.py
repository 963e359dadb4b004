"""A JSON-lines conversation with a reference harness's process in the sandbox, kept alive.

`RpcChannel` sends requests with ids over a sandbox `Channel` and matches the answers, which
a multi-threaded peer may give in any order. `SupervisedRpc` restarts the process when it
dies or hangs, so that one sample never sinks a run (BFCL's bridge, IFEval's checkers).
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from contextlib import asynccontextmanager
from typing import Any

import anyio

from benchdock.harnesses.sandbox.base import Channel, SandboxError

log = logging.getLogger("benchdock.delegated")


class HarnessExited(SandboxError):
    """The harness process ended (or was ended) while requests were in flight."""


class RpcChannel:
    """Requests with ids over a channel, answered in any order by a multi-threaded peer."""

    def __init__(self, channel: Channel, init: dict[str, Any], start_timeout: float) -> None:
        self.channel = channel
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.dead = False
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
            try:
                return self.channel.read(timeout)
            except ValueError:  # a line that is not a reply: the harness's own chatter
                continue

    def _dispatch(self) -> None:
        while True:
            line = self.channel.lines.get()
            if line is None:
                break
            try:
                msg = json.loads(line)
                with self._lock:
                    fut = self._pending.pop(int(msg["id"]))
            except (ValueError, KeyError, TypeError):
                log.debug("harness said: %s", line[:200])
                continue
            fut.set_result(msg)
        with self._lock:
            self.dead = True
            waiting, self._pending = list(self._pending.values()), {}
        for fut in waiting:
            fut.set_exception(HarnessExited("the harness process exited"))

    def call(self, op: str, timeout: float, **args: Any) -> dict[str, Any]:
        rid = next(self._ids)
        fut: Future[dict[str, Any]] = Future()
        with self._lock:
            if self.dead:
                raise HarnessExited("the harness process exited")
            self._pending[rid] = fut
        try:
            self.channel.send((json.dumps({"id": rid, "op": op, **args}) + "\n").encode())
        except OSError as exc:
            with self._lock:
                self._pending.pop(rid, None)
            raise HarnessExited(f"the harness process is gone ({exc})") from exc
        try:
            reply = fut.result(timeout=timeout)
        except TimeoutError:
            with self._lock:
                self._pending.pop(rid, None)
            raise
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


class HarnessLost(Exception):
    """A request during which the harness process died or hung twice, the second time
    with nothing else in flight: that request is the cause, and its sample's verdict."""

    def __init__(self, why: str, hung: bool) -> None:
        super().__init__(why)
        self.hung = hung


class SupervisedRpc:
    """An `RpcChannel` that is restarted when its process dies or stops answering.

    Requests share the process. When it dies or hangs, every request in flight is retried
    once, alone (no other request in flight), on a fresh process: an innocent one then
    gets its answer, and one that takes the process down again is known to be the cause
    and ends in `HarnessLost`, which the session turns into that sample's verdict. Each
    request meets at most two deaths, so a run always ends and a resumed run never meets
    the same cause again (it has its verdict). A process that cannot be restarted is a
    `SandboxError`: the run fails, resumably.
    """

    def __init__(self, start: Callable[[], RpcChannel]) -> None:
        self._start = start
        self.rpc = start()
        self.generation = 0
        self.restarts: list[str] = []
        self.closed = False
        self._cond = anyio.Condition()
        self._active = 0
        self._alone_waiting = 0
        self._alone = False
        self._restart_lock = anyio.Lock()

    async def call(self, op: str, timeout: float, **args: Any) -> dict[str, Any]:
        alone = False
        while True:
            async with self._slot(alone):
                rpc, gen = self.rpc, self.generation
                try:
                    return await rpc.acall(op, timeout, **args)
                except HarnessExited as exc:
                    why, hung = f"{exc}", False
                except TimeoutError:
                    why, hung = f"the harness process gave no answer within {timeout:.0f}s", True
                if self.closed:
                    raise SandboxError("the harness was closed (the run was stopped)")
                await self._restart(gen, why)
            if alone:
                raise HarnessLost(why, hung)
            alone = True

    @asynccontextmanager
    async def _slot(self, alone: bool) -> AsyncIterator[None]:
        """Shared by ordinary requests; exclusive for a retry (writers first)."""
        async with self._cond:
            if alone:
                self._alone_waiting += 1
                while self._active or self._alone:
                    await self._cond.wait()
                self._alone_waiting -= 1
                self._alone = True
            else:
                while self._alone or self._alone_waiting:
                    await self._cond.wait()
                self._active += 1
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                async with self._cond:
                    if alone:
                        self._alone = False
                    else:
                        self._active -= 1
                    self._cond.notify_all()

    async def _restart(self, gen: int, why: str) -> None:
        async with self._restart_lock:
            if gen != self.generation or self.closed:
                return  # another request restarted it already
            log.warning("the harness process failed (%s); restarting it", why)
            old = self.rpc
            await anyio.to_thread.run_sync(old.close)  # a hung one is killed here
            self.rpc = await anyio.to_thread.run_sync(self._start)
            self.generation += 1
            self.restarts.append(why)

    def close(self) -> None:
        self.closed = True
        self.rpc.close()
