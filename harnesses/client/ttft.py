"""Time to first token without paying for streaming.

Streaming is how a client measures time to first token, but it is not free: llama-cpp-python
serves the same request streamed ~13 % slower than unstreamed, and benchdock parses every
chunk on the same cores the model runs on. Several servers say how long the prompt took in
their unstreamed answers; where one does, benchdock asks unstreamed and takes time to first
token from the server's own figure, so generation runs at the endpoint's own speed.

Whether an endpoint reports timings is learnt from its first unstreamed answer and
remembered for this process, per endpoint and model (llama-swap routes models to different
servers). Every later unstreamed answer is checked again, so a server that changes behind
the same URL is followed. Where the server reports nothing, a run streams one request in
`stream_every` (`BENCHDOCK_TTFT_STREAM_EVERY`, default 32; 1 streams them all), enough for the
run's time-to-first-token figure while the rest go at the unstreamed speed; the other
samples have no time to first token, and each sample records where its figure came from.
Lemonade reports nothing in its answers but keeps the last request's figures at
`/api/v1/stats`: a run that sends one request at a time reads it after each answer.
Why 32: against llama-cpp-python on 2 cores a full HumanEval run took 1.088x the bare
unstreamed loop with one request in 8 streamed and 1.067x with one in 32 (streamed requests
took ~10 % longer per token there); one in 32 still gives about five figures per 164 tasks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from benchdock.harnesses.config import ConfigError

STREAMED = "streamed"  # the client's own clock: the first content chunk of a stream
STREAM_EVERY_DEFAULT = 32


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 else None


def _path(data: Mapping[str, Any], *keys: str) -> object:
    cur: object = data
    for k in keys:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(k)
    return cur


def _ms(*keys: str) -> Callable[[Mapping[str, Any]], float | None]:
    def read(d: Mapping[str, Any]) -> float | None:
        v = _num(_path(d, *keys))
        return v / 1000 if v is not None else None
    return read


def _ollama(d: Mapping[str, Any]) -> float | None:
    prompt, load = _num(d.get("prompt_eval_duration")), _num(d.get("load_duration"))
    return (prompt + (load or 0)) / 1e9 if prompt is not None else None


# (where the figure is, how to read it in seconds): the first that answers wins
SERVER_FIELDS: tuple[tuple[str, Callable[[Mapping[str, Any]], float | None]], ...] = (
    # llama-server (and llama-swap in front of it): prompt processing in ms; the first token
    # is sampled right after it (the BFCL proxy has always read it so)
    ("llama.cpp timings.prompt_ms", _ms("timings", "prompt_ms")),
    # vLLM started with --enable-per-request-metrics
    ("vllm metrics.time_to_first_token_ms", _ms("metrics", "time_to_first_token_ms")),
    # LM Studio's REST API (/api/v0/chat/completions): seconds
    ("lmstudio stats.time_to_first_token", lambda d: _num(_path(d, "stats", "time_to_first_token"))),
    # ollama's native fields (ns), where a server passes them on: loading plus the prompt
    ("ollama prompt_eval_duration", _ollama),
)


LEMONADE_STATS = "lemonade /api/v1/stats"


async def lemonade_ttft(client: Any, url: str, headers: Mapping[str, str]) -> float | None:
    """Lemonade's time to first token of the last request it served (`GET /api/v1/stats`,
    seconds): this request's, when requests go one at a time."""
    try:
        r = await client.get(f"{url}/stats", headers=dict(headers))
        return _num(r.json().get("time_to_first_token")) if r.status_code == 200 else None
    except Exception:
        return None


def server_ttft(data: Mapping[str, Any]) -> tuple[float, str] | None:
    """Time to first token (s) and where it was read, from an unstreamed chat completion;
    None when the server reported nothing usable."""
    for name, read in SERVER_FIELDS:
        value = read(data)
        if value is not None:
            return value, name
    return None


@dataclass
class EndpointTimings:
    """What one endpoint (and model) has shown: whether its unstreamed answers carry timings
    (None until the first answer says) and under which field."""

    reports: bool | None = None
    field: str | None = None


_known: dict[tuple[str, str], EndpointTimings] = {}
_lock = threading.Lock()


def known(url: str, model: str) -> EndpointTimings:
    """The process-wide record for this endpoint and model (created empty on first use)."""
    with _lock:
        return _known.setdefault((url.rstrip("/"), model), EndpointTimings())


def forget() -> None:
    """Forget every endpoint (tests; a user who swapped servers restarts the worker)."""
    with _lock:
        _known.clear()


def stream_every(value: str | None) -> int:
    """`BENCHDOCK_TTFT_STREAM_EVERY` as a number, or a ConfigError naming it."""
    if value is None or not value.strip():
        return STREAM_EVERY_DEFAULT
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(f"BENCHDOCK_TTFT_STREAM_EVERY={value!r} is not valid; give a whole "
                          "number >= 1 (1 streams every request where the server reports no "
                          f"timings; default {STREAM_EVERY_DEFAULT})")
    return n


class TtftPlan:
    """One run's choice, request by request, of streamed or unstreamed."""

    def __init__(self, url: str, model: str, every: int = STREAM_EVERY_DEFAULT) -> None:
        self.state = known(url, model)
        self.every = max(1, every)
        self._without = 0  # requests decided while the endpoint was known to report nothing

    def stream_next(self) -> bool:
        """Stream this request? Never while the endpoint is unknown (its unstreamed answer
        tells) or reports timings; else the first request and one in `every` after it."""
        if self.state.reports is not False:
            return False
        n, self._without = self._without, self._without + 1
        return n % self.every == 0

    def learn(self, streamed: bool, source: str | None) -> None:
        """Record what an unstreamed answer showed (a streamed one says nothing of timings)."""
        if streamed:
            return
        with _lock:
            self.state.reports = source is not None
            self.state.field = source

    def describe(self) -> str:
        """How this run measures time to first token, in words (for logs and reports)."""
        if self.state.reports:
            return f"unstreamed; time to first token from the server's {self.state.field}"
        if self.state.reports is None:
            return "unstreamed until the endpoint's first answer shows whether it reports timings"
        if self.every == 1:
            return "streamed: the server reports no timings in unstreamed answers"
        return (f"one request in {self.every} streamed to measure time to first token (the "
                "server reports no timings in unstreamed answers); the rest unstreamed")
