"""The recording proxy: an OpenAI-compatible endpoint on a unix socket that forwards to the
real one.

It lets a reference harness (BFCL's own handler, aider) do its own prompting and parsing
unchanged while benchdock keeps what its own runs have: every exchange timed (latency, time
to first token, tokens) and attributed to a sample, repeats answered from the generation
cache (so a resumed run asks again only what was never answered), the endpoint retried, and
an endpoint failure turned into a failed, resumable run rather than a wrong verdict.

Requests go upstream as the harness sent them; the answer always goes back as one JSON
chat.completion (BFCL's handler does not stream; a harness that asks for a stream of
server-sent events is not served one yet).

The harness puts the sample's tag in the path: `/t/{tag}/v1/chat/completions`. A unix
socket, not a TCP port, so a sandbox container with no network at all can still reach it
(the socket's directory is bind-mounted) and nothing else.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from benchdock.harnesses.client.llm import (
    ChatResult,
    EmptyStream,
    EndpointError,
    SamplingParams,
    chat_with_retries,
    plain_chat,
)
from benchdock.harnesses.config import EndpointConfig
from benchdock.store import queries as q
from benchdock.store.tables import Generation, Run

log = logging.getLogger("benchdock.proxy")
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Exchange(BaseModel):
    """One request the harness made, as the sample's evidence keeps it."""

    latency_s: float
    ttft_s: float | None = None
    ttft_source: str | None = None  # "streamed", the server's field, or None (not reported)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    tool_calls: int = 0
    cached: bool = False
    status: int = 200
    error: str | None = None
    retries: int = 0  # attempts that failed before this one answered (or all of them)
    retry_lost_s: float = 0.0


class RecordingProxy:
    def __init__(self, db: Engine, run: Run, endpoint: EndpointConfig, params: SamplingParams,
                 cache_key: Callable[[Run, dict[str, Any], int], str], timeout_s: float,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.db, self.run, self.endpoint, self.params = db, run, endpoint, params
        self.cache_key = cache_key
        self.timeout = httpx.Timeout(timeout_s, connect=10.0)
        self.transport = transport
        self.client = httpx.AsyncClient(timeout=self.timeout, transport=transport)
        self.exchanges: dict[str, list[Exchange]] = defaultdict(list)
        self.failures: dict[str, str] = {}

    def take(self, tag: str) -> tuple[list[Exchange], str | None]:
        """The exchanges of one sample, and the endpoint failure it met, if any."""
        return self.exchanges.pop(tag, []), self.failures.pop(tag, None)

    async def serve(self, socket_path: str, *,
                    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        import uvicorn

        class Quiet(uvicorn.Server):
            def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
                return contextlib.nullcontext()  # signals belong to the worker, not the proxy

        server = Quiet(uvicorn.Config(self.app, uds=socket_path, log_level="warning",
                                      lifespan="off", access_log=False, interface="asgi3"))
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve)
            while not server.started:
                await anyio.sleep(0.02)
            os.chmod(socket_path, 0o777)  # the sandbox's user (nobody) must connect
            task_status.started()
            try:
                await anyio.sleep_forever()
            finally:
                server.should_exit = True
                await self.client.aclose()

    async def app(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        parts = scope["path"].strip("/").split("/")
        if len(parts) < 3 or parts[0] != "t":
            return await _json(send, 404, {"error": {"message": f"no route {scope['path']}"}})
        tag, rest = parts[1], "/".join(parts[2:])
        if rest.endswith("models"):
            return await _json(send, 200, {"object": "list", "data": [
                {"id": self.run.model, "object": "model", "owned_by": "benchdock"}]})
        if not rest.endswith("chat/completions") or scope["method"] != "POST":
            return await _json(send, 404, {"error": {"message": f"benchdock's proxy serves "
                                                     f"chat/completions only, not {rest}"}})
        chunks: list[bytes] = []  # joined once: += would copy the body at every chunk
        while True:
            msg = await receive()
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body"):
                break
        try:
            body = json.loads(b"".join(chunks))
        except ValueError:
            return await _json(send, 400, {"error": {"message": "request body is not JSON"}})
        try:
            status, payload = await self.complete(tag, body)
        except Exception as exc:  # a bug of ours must fail the run, not pass for a bad answer
            log.exception("proxy failed")
            self.failures[tag] = f"benchdock's proxy failed: {type(exc).__name__}: {exc}"
            status, payload = 500, {"error": {"message": self.failures[tag]}}
        await _json(send, status, payload)

    async def complete(self, tag: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        fwd = self._forward_body(body)
        key = self.cache_key(self.run, fwd, 0)
        hit = q.cache_get(self.db, key)
        if hit is not None:
            res = ChatResult(content=hit.content, reasoning=hit.reasoning,
                             finish_reason=hit.finish_reason, prompt_tokens=hit.prompt_tokens,
                             completion_tokens=hit.completion_tokens,
                             latency_s=hit.latency_s or 0.0, ttft_s=hit.ttft_s,
                             tool_calls=hit.tool_calls)
            self._record(tag, res, cached=True)
            return 200, _completion(self.run.model, res)
        try:
            try:
                res = await chat_with_retries(self.client, self.endpoint, fwd)
            except EmptyStream:
                res = await self._plain(fwd)
        except EndpointError as exc:
            self.exchanges[tag].append(Exchange(
                latency_s=0.0, status=exc.status or 502, error=str(exc),
                retries=getattr(exc, "attempts", 1) - 1,
                retry_lost_s=round(getattr(exc, "lost_s", 0.0), 3)))
            if exc.status is not None and exc.status < 500:
                # the endpoint refused this request (e.g. it rejects `tools`): the harness
                # sees the refusal and it becomes this sample's verdict
                return exc.status, {"error": {"message": str(exc), "type": "endpoint_refused"}}
            self.failures[tag] = str(exc)
            return 502, {"error": {"message": str(exc), "type": "endpoint_failed"}}
        q.cache_put(self.db, Generation(
            key=key, model=self.run.model, content=res.content, reasoning=res.reasoning,
            finish_reason=res.finish_reason, prompt_tokens=res.prompt_tokens,
            completion_tokens=res.completion_tokens, latency_s=res.latency_s, ttft_s=res.ttft_s,
            tool_calls=res.tool_calls))
        self._record(tag, res, cached=False)
        return 200, _completion(self.run.model, res)

    def _forward_body(self, body: dict[str, Any]) -> dict[str, Any]:
        """The harness's request as sent upstream: its own messages, tools, temperature and
        streaming choice; the run's model id, token cap, top_p and seed where it set none.
        Unstreamed stays unstreamed (the same request the harness would send: a streamed
        one costs llama-cpp-python ~10% more), and time to first token then comes from the
        server's timings where it reports them."""
        fwd = {k: v for k, v in body.items() if k not in ("stream_options", "store")}
        fwd["model"] = self.run.model
        fwd.setdefault("max_tokens", self.params.max_tokens)
        fwd.setdefault("top_p", self.params.top_p)
        if self.params.seed is not None:
            fwd.setdefault("seed", self.params.seed)
        if fwd.get("stream"):
            fwd["stream_options"] = {"include_usage": True}
        return fwd

    async def _plain(self, body: dict[str, Any]) -> ChatResult:
        """The same request unstreamed, to get the endpoint's own error (status and text)."""
        plain = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
        # a fresh connection: the server dropped the streamed one
        async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as c:
            return await plain_chat(c, self.endpoint, plain)

    def _record(self, tag: str, res: ChatResult, cached: bool) -> None:
        self.exchanges[tag].append(Exchange(
            latency_s=res.latency_s, ttft_s=res.ttft_s,
            ttft_source=None if cached else res.ttft_source, prompt_tokens=res.prompt_tokens,
            completion_tokens=res.completion_tokens, finish_reason=res.finish_reason,
            tool_calls=len(res.tool_calls or []), cached=cached, retries=res.retries,
            retry_lost_s=res.retry_lost_s))


def _completion(model: str, res: ChatResult) -> dict[str, Any]:
    """A non-streamed chat.completion, as OpenAI's client expects it."""
    message: dict[str, Any] = {"role": "assistant", "content": res.content}
    if res.tool_calls:
        message["tool_calls"] = res.tool_calls
    if res.reasoning:
        message["reasoning_content"] = res.reasoning
    finish = res.finish_reason or ("tool_calls" if res.tool_calls else "stop")
    usage = {"prompt_tokens": res.prompt_tokens or 0,
             "completion_tokens": res.completion_tokens or 0}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {"id": f"chatcmpl-benchdock-{time.monotonic_ns()}", "object": "chat.completion",
            "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage}


async def _json(send: Send, status: int, payload: dict[str, Any]) -> None:
    data = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
