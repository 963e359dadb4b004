"""A model's speed on its endpoint from a few short requests, before anything is planned.

A plan or a decision sizes its runs by how long a task takes on this endpoint. With nothing
measured, an assumed speed is off by orders of magnitude either way (20 tokens/s assumed;
0.5 s a HumanEval task measured on the demo model), so the planner asks the model itself:
`PROBES` streamed requests for a short, fixed answer, timing the first token and the
decoding after it. The first request also pays for loading the model on a server that swaps
models; it is kept apart (`load_s`) and left out of the speed.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
from pydantic import BaseModel, Field

from benchdock.harnesses.client.llm import EndpointError, SamplingParams, request_body, stream_chat
from benchdock.harnesses.config import EndpointConfig

PROBES = 3
PROBE_TOKENS = 64
PROMPT = ("Write the numbers from 1 to 40 separated by commas, then the word done. "
          "No other text.")


class Probe(BaseModel):
    tokens_per_s: float | None = Field(description="Generated tokens per second of decoding")
    ttft_s: float | None = Field(description="Median time to first token, warm")
    load_s: float | None = Field(default=None, description=(
        "The first request's extra time to first token (loading the model, if it had to)"))
    requests: int
    seconds: float = Field(description="What the probe took")
    at: str = Field(description="When it was measured (UTC, ISO)")


async def probe_speed(ep: EndpointConfig, model: str, requests: int = PROBES,
                      transport: httpx.AsyncBaseTransport | None = None,
                      timeout_s: float = 300.0) -> Probe:
    """Measure `model` on `ep` with `requests` short streamed answers (one more when the
    first shows a load). Raises EndpointError when the endpoint fails them."""
    params = SamplingParams(temperature=0.0, max_tokens=PROBE_TOKENS)
    body: dict[str, Any] = request_body(model, [{"role": "user", "content": PROMPT}], params)
    t0 = time.monotonic()
    ttfts: list[float] = []
    rates: list[float] = []
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=10.0),
                                 transport=transport) as client:
        for _ in range(requests):
            res = await stream_chat(client, ep, body)
            if res.ttft_s is not None:
                ttfts.append(res.ttft_s)
            decode = res.latency_s - (res.ttft_s or 0.0)
            tokens = (res.completion_tokens or 0) - 1  # the first token is in the ttft
            if decode > 0 and tokens > 0:
                rates.append(tokens / decode)
    if not ttfts and not rates:
        raise EndpointError(f"{ep.url}: {model} answered the speed probe with nothing")
    warm = ttfts[1:] or ttfts
    load = max(0.0, ttfts[0] - statistics.median(warm)) if len(ttfts) > 1 else None
    return Probe(
        tokens_per_s=round(statistics.median(rates), 2) if rates else None,
        ttft_s=round(statistics.median(warm), 3) if warm else None,
        load_s=round(load, 3) if load is not None else None, requests=requests,
        seconds=round(time.monotonic() - t0, 2),
        at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
