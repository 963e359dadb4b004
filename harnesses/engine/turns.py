"""Scoring and generation taking turns, when both would run on this machine's CPU.

A model served on the same machine as the sandbox (llama.cpp on the CPU, or a GPU server
whose host threads still want the cores) slows down when answers are scored beside it: the
sandbox's lowest Docker CPU weight ranks containers only among themselves, not against a
server on the host. Measured on 2 cores, SmolLM2 served by llama-cpp-python, the first 82
HumanEval tasks, ratio to the bare unstreamed loop (notes of issue 15): with the server on
both cores (as llama-server runs by default), 1.108x scoring beside generation and 1.030x
taking turns; with the server on one core (llama-cpp-python's default), the full 164 tasks,
1.024x beside and 1.022-1.026x in turns on a quiet machine.

So with an endpoint on this machine, generation and scoring take turns: once `batch`
answers are held, the next request waits; when the requests in flight are answered, the
batch is scored at full priority by all the sandbox's runners, and generation resumes.
Verdicts still come every few answers (progress, and `decide`'s checks, keep moving), and
the total is generation plus the scoring alone. With an endpoint on another machine,
or the sandbox on another machine's Docker engine, nothing is shared and each answer is
scored as it comes, beside later generation.

`BENCHDOCK_SCORING`: `auto` (the default: the rule above), `turns`, or `overlap`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal
from urllib.parse import urlsplit

import anyio

from benchdock.harnesses.config import ConfigError
from benchdock.harnesses.sandbox.remote import remote_engine
from benchdock.store.tables import Sample

ScoringMode = Literal["turns", "overlap"]
SCORING_CHOICES = ("auto", "turns", "overlap")
ANSWERS_PER_RUNNER = 2  # a turn's batch: work for every runner, verdicts every few answers


def on_this_machine(host: str) -> bool:
    """Whether `host` (a URL's host) names this machine: loopback, the wildcard, or this
    machine's own name or addresses. No DNS lookup for other names."""
    host = host.strip("[]").lower()
    if host in ("localhost", "localhost.localdomain"):
        return True
    with contextlib.suppress(ValueError):
        ip = ipaddress.ip_address(host)
        if ip.is_loopback or ip.is_unspecified:
            return True
    names = {socket.gethostname().lower(), socket.getfqdn().lower()}
    if host in names:
        return True
    try:
        _, _, own = socket.gethostbyname_ex(socket.gethostname())
    except OSError:
        return False
    return host in own


def scoring_mode(setting: str | None, endpoint_url: str) -> tuple[ScoringMode, str]:
    """How this run schedules scoring against generation, and why (for the run's log)."""
    value = (setting or "auto").strip().lower()
    if value not in SCORING_CHOICES:
        raise ConfigError(f"BENCHDOCK_SCORING={setting!r} is not a scoring mode; choose one of "
                          f"{', '.join(SCORING_CHOICES)}")
    if value == "turns":
        return "turns", "BENCHDOCK_SCORING=turns"
    if value == "overlap":
        return "overlap", "BENCHDOCK_SCORING=overlap"
    if (docker := remote_engine()) is not None:
        return "overlap", f"the sandbox runs on the Docker engine at {docker}"
    host = urlsplit(endpoint_url).hostname or ""
    if on_this_machine(host):
        return "turns", f"the endpoint ({host}) is on this machine"
    return "overlap", f"the endpoint ({host}) is on another machine"


class Turns:
    """The gate between requests and scoring. Each request to the model runs inside
    `request(score)`; each answer is `add`ed. A request about to start when `batch` answers
    are held first stops new requests, waits for those in flight, and scores the held
    answers with `score` (so no answer is scored while the model generates); `rest` is what
    is still held when generation is over."""

    def __init__(self, batch: int) -> None:
        self.batch = max(1, batch)
        self._cond = anyio.Condition()
        self._held: list[Sample] = []
        self._in_flight = 0
        self._scoring = False

    @contextlib.asynccontextmanager
    async def request(self, score: Callable[[list[Sample]], Awaitable[None]]
                      ) -> AsyncIterator[None]:
        while True:
            async with self._cond:
                while self._scoring:
                    await self._cond.wait()
                if len(self._held) < self.batch:
                    self._in_flight += 1
                    break
                self._scoring = True  # this request scores the batch first
                while self._in_flight:
                    await self._cond.wait()
                batch, self._held = self._held, []
            try:
                await score(batch)
            finally:
                await self._notify(scoring=False)
        try:
            yield
        finally:
            await self._notify(in_flight=-1)

    async def _notify(self, scoring: bool | None = None, in_flight: int = 0) -> None:
        with anyio.CancelScope(shield=True):
            async with self._cond:
                if scoring is not None:
                    self._scoring = scoring
                self._in_flight += in_flight
                self._cond.notify_all()

    def add(self, sample: Sample) -> None:
        self._held.append(sample)

    def rest(self) -> list[Sample]:
        batch, self._held = self._held, []
        return batch
