"""Streamed answers from one endpoint at once, on the real demo server.

llama-cpp-python's server by default cuts the answer it is streaming off when another request
arrives (`interrupt_requests`: [DONE] with no finish_reason). The demo server is started with
it off, so concurrent requests wait their turn and every answer ends as the model ended it;
CI's parallel test workers and a user's concurrent runs both depend on that."""

from __future__ import annotations

import anyio
import httpx
import pytest

from benchdock.harnesses.client.llm import SamplingParams, request_body, stream_chat
from benchdock.harnesses.config import EndpointConfig

MODEL = "smollm2-135m"
pytestmark = pytest.mark.anyio


async def test_three_streams_at_once_each_end_with_a_finish_reason(endpoint_url: str) -> None:
    ep = EndpointConfig(url=endpoint_url)
    finishes: dict[int, str | None] = {}

    async def one(client: httpx.AsyncClient, i: int) -> None:
        body = request_body(MODEL, [{"role": "user", "content": f"Count from {i} to {i + 20}."}],
                            SamplingParams(max_tokens=24, temperature=0.0))
        res = await stream_chat(client, ep, body)  # raises InterruptedStream if cut off
        finishes[i] = res.finish_reason

    async with httpx.AsyncClient(timeout=300) as client, anyio.create_task_group() as tg:
        for i in range(3):
            tg.start_soon(one, client, i)
    assert sorted(finishes) == [0, 1, 2]
    assert all(f in ("stop", "length") for f in finishes.values()), finishes
