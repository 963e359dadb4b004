"""benchdock's own chat client, streamed or not.

Unstreamed is the endpoint's own speed; streaming is how a client measures time to first
token where the server does not report it (`ttft.py` chooses, request by request).
Reasoning models stream their thinking as `reasoning_content` (llama-server, vLLM) or
`reasoning`: it is recorded apart and never taken for the answer. A `finish_reason` of
`length` marks the answer as truncated by max_tokens.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import anyio
import httpx
from pydantic import BaseModel

from benchdock.harnesses.client.ttft import STREAMED, server_ttft
from benchdock.harnesses.config import EndpointConfig
from benchdock.harnesses.runspec import MaxTokens, Seed, Temperature, TopP

log = logging.getLogger("benchdock.llm")
RETRIES = 3


class EndpointError(RuntimeError):
    """The endpoint refused or failed a request (HTTP error, bad stream, no answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class EmptyStream(EndpointError):
    """HTTP 200, then the stream closed with no answer and no [DONE]: llama-cpp-python does
    this when the prompt does not fit the context. A plain request gets the real error."""


class InterruptedStream(EndpointError):
    """[DONE] before any choice said why it finished: the server cut the answer off. An
    OpenAI-compatible server ends every choice with a finish_reason; llama-cpp-python's
    server (interrupt_requests, on by default) sends [DONE] mid-answer to a stream when
    another request arrives. Scoring what came so far would score the server's scheduling,
    not the model, so the request is retried (see `chat_with_retries`)."""


class SamplingParams(BaseModel):
    """What a run's requests carry, resolved (the benchmark's default max_tokens applied);
    the types are the run settings' own (`runspec.py`). Defaults reproduce EvalPlus's chat
    codegen: greedy, top_p 0.95, 768 new tokens."""

    temperature: Temperature = 0.0
    top_p: TopP = 0.95
    max_tokens: MaxTokens = 768
    seed: Seed = None


class ChatResult(BaseModel):
    content: str
    reasoning: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float
    ttft_s: float | None = None
    # where ttft_s came from: "streamed" (our clock, first chunk), the server's own field
    # (e.g. "llama.cpp timings.prompt_ms"), or None (unstreamed, the server said nothing)
    ttft_source: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    # attempts that failed before this answer (5xx, a dropped connection) and the time they
    # and the waits between them took: the endpoint's unreliability, not the model's answer
    retries: int = 0
    retry_lost_s: float = 0.0


def request_body(model: str, messages: list[dict[str, str]], p: SamplingParams,
                 stream: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model, "messages": messages, "temperature": p.temperature, "top_p": p.top_p,
        "max_tokens": p.max_tokens, "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    if p.seed is not None:
        body["seed"] = p.seed
    return body


async def stream_chat(
    client: httpx.AsyncClient, ep: EndpointConfig, body: dict[str, Any]
) -> ChatResult:
    headers = {"Authorization": f"Bearer {ep.api_key}"} if ep.api_key else {}
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish: str | None = None
    usage: dict[str, Any] = {}
    chunks = 0
    t0 = time.perf_counter()
    ttft: float | None = None
    done = False
    try:
        async with client.stream("POST", f"{ep.url}/chat/completions", json=body,
                                 headers=headers) as r:
            if r.status_code != 200:
                text = (await r.aread()).decode("utf-8", "replace")[:500]
                raise EndpointError(f"{ep.url} answered HTTP {r.status_code}: {text}", r.status_code)
            async for line in r.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                    break
                try:
                    event = json.loads(data)
                except ValueError as exc:
                    raise EndpointError(f"{ep.url} sent a malformed stream line: {data[:200]}") from exc
                if event.get("error"):
                    raise EndpointError(f"{ep.url} reported an error: {event['error']}")
                if event.get("usage"):
                    usage = event["usage"]
                for choice in event.get("choices") or []:
                    delta = choice.get("delta") or {}
                    piece = delta.get("content")
                    think = delta.get("reasoning_content") or delta.get("reasoning")
                    for tc in delta.get("tool_calls") or []:
                        _merge_tool_call(calls, tc)
                    if piece or think or delta.get("tool_calls"):
                        chunks += 1
                        if ttft is None:
                            ttft = time.perf_counter() - t0
                    if piece:
                        content.append(piece)
                    if think:
                        reasoning.append(think)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
    except httpx.HTTPError as exc:
        raise EndpointError(f"{ep.url}: {type(exc).__name__}: {exc}") from exc
    latency = time.perf_counter() - t0
    if not done and finish is None and not content and not reasoning and not calls:
        raise EmptyStream(f"{ep.url} closed the stream without an answer")
    if done and finish is None:
        raise InterruptedStream(
            f"{ep.url} ended the stream after {chunks} chunks with [DONE] but no "
            "finish_reason: the answer was cut off by the server (llama-cpp-python's server "
            "does this to a stream when another request arrives; start it with "
            "--interrupt_requests False)")
    return ChatResult(
        content="".join(content),
        reasoning="".join(reasoning) or None,
        finish_reason=finish,
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens") or chunks,
        latency_s=latency,
        ttft_s=ttft,
        ttft_source=STREAMED if ttft is not None else None,
        tool_calls=[calls[i] for i in sorted(calls)] or None,
    )


def _merge_tool_call(calls: dict[int, dict[str, Any]], tc: dict[str, Any]) -> None:
    """Streamed tool calls arrive in pieces keyed by index: the name once, the arguments in
    fragments to concatenate."""
    idx = int(tc.get("index", len(calls)))
    call = calls.setdefault(idx, {"id": None, "type": "function",
                                  "function": {"name": "", "arguments": ""}})
    if tc.get("id"):
        call["id"] = tc["id"]
    fn = tc.get("function") or {}
    if fn.get("name"):
        call["function"]["name"] += fn["name"]
    if fn.get("arguments"):
        call["function"]["arguments"] += fn["arguments"]
    if call["id"] is None:
        call["id"] = f"call_{idx}"


async def plain_chat(
    client: httpx.AsyncClient, ep: EndpointConfig, body: dict[str, Any]
) -> ChatResult:
    """One unstreamed request, sent as it is. Time to first token comes from the server's
    own timings where it reports them (`ttft.server_ttft`: llama-server's `timings`, vLLM's
    `metrics`, ...), else it is unknown."""
    headers = {"Authorization": f"Bearer {ep.api_key}"} if ep.api_key else {}
    t0 = time.perf_counter()
    try:
        r = await client.post(f"{ep.url}/chat/completions", json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise EndpointError(f"{ep.url}: {type(exc).__name__}: {exc}") from exc
    latency = time.perf_counter() - t0
    if r.status_code != 200:
        raise EndpointError(f"{ep.url} answered HTTP {r.status_code}: {r.text[:500]}", r.status_code)
    try:
        data = r.json()
        choice = data["choices"][0]
        msg = choice["message"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise EndpointError(f"{ep.url} sent no chat completion: {r.text[:300]}") from exc
    usage = data.get("usage") or {}
    timed = server_ttft(data) if isinstance(data, dict) else None
    return ChatResult(
        content=msg.get("content") or "",
        reasoning=msg.get("reasoning_content") or msg.get("reasoning") or None,
        finish_reason=choice.get("finish_reason"), tool_calls=msg.get("tool_calls") or None,
        prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
        latency_s=latency, ttft_s=timed[0] if timed else None,
        ttft_source=timed[1] if timed else None,
    )


class RetriesExhausted(EndpointError):
    """Every attempt failed; `attempts` and `lost_s` say how many and how long they took."""

    def __init__(self, exc: EndpointError, attempts: int, lost_s: float) -> None:
        super().__init__(str(exc), exc.status)
        self.attempts, self.lost_s = attempts, lost_s


async def chat_with_retries(
    client: httpx.AsyncClient, ep: EndpointConfig, body: dict[str, Any], retries: int = RETRIES
) -> ChatResult:
    """The request (streamed if `body` asks for it), retried with backoff on 5xx and
    connection errors; a 4xx is final. The answer says how many attempts failed before it
    and the time they cost (the failed attempts and the waits)."""
    delay = 1.0
    t0 = time.perf_counter()
    for attempt in range(retries):
        started = time.perf_counter()
        try:
            res = (await stream_chat(client, ep, body) if body.get("stream")
                   else await plain_chat(client, ep, body))
        except EndpointError as exc:
            if (attempt == retries - 1 or isinstance(exc, EmptyStream)
                    or (exc.status is not None and exc.status < 500)):
                if attempt:
                    raise RetriesExhausted(exc, attempt + 1,
                                           time.perf_counter() - t0) from exc
                raise
            log.warning("request failed (%s); retrying in %.0fs", exc, delay)
            await anyio.sleep(delay)
            delay *= 2
            continue
        if attempt:
            res.retries, res.retry_lost_s = attempt, round(started - t0, 3)
        return res
    raise AssertionError("unreachable")
