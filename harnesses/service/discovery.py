"""Which endpoints to use when none is configured: the usual local ports, looked at first.

A new user who has a model server running but has not told benchdock about it would
otherwise meet "connection refused" on llama-server's port and the demo model. With no
BENCHDOCK_ENDPOINTS and no config file, discovery probes the ports the common servers listen
on — llama-server 8080, ollama 11434, LM Studio 1234, Lemonade 8000 and 13305 (its API
under /api/v1; 8000 is also vLLM's) — keeps those that answer, and says what it looked at and
what it found. The answer is kept for half a minute, so a burst of tool calls probes once.
"""

from __future__ import annotations

import asyncio
import time

from benchdock.harnesses.client.endpoints import EndpointStatus, probe
from benchdock.harnesses.config import EndpointConfig, Settings

HOST = "127.0.0.1"
# (port, base path, who listens there by default); a port's first answer wins
CANDIDATES = ((8080, "/v1", "llama-server"), (11434, "/v1", "ollama"), (1234, "/v1", "LM Studio"),
              (8000, "/api/v1", "Lemonade"), (8000, "/v1", "vLLM"),
              (13305, "/api/v1", "Lemonade"))
TTL_S = 30.0
_cache: tuple[float, list[EndpointStatus], str] | None = None


def candidates(host: str = HOST) -> list[EndpointConfig]:
    return [EndpointConfig(url=f"http://{host}:{port}{path}", name=who)
            for port, path, who in CANDIDATES]


async def scan(host: str = HOST, timeout_s: float = 2.0) -> tuple[list[EndpointStatus], str]:
    """The local endpoints that answer (one per port) and a sentence saying what was found."""
    global _cache
    now = time.monotonic()
    if _cache is not None and now - _cache[0] < TTL_S:
        return _cache[1], _cache[2]
    eps = candidates(host)
    statuses = await asyncio.gather(*(probe(e, timeout=timeout_s) for e in eps))
    found: dict[str, EndpointStatus] = {}
    for ep, st in zip(eps, statuses, strict=True):
        port = ep.url.split(":")[2].split("/")[0]
        if st.up and port not in found:
            st.name = None  # the server kind is in `server`
            found[port] = st
    ports = ", ".join(dict.fromkeys(str(p) for p, _, _ in CANDIDATES))
    looked = f"no endpoint configured (BENCHDOCK_ENDPOINTS): looked on {host} ports {ports}"
    if found:
        note = looked + "; found " + "; ".join(
            f"{st.server} at {st.url} ({len(st.models)} model(s))" for st in found.values())
    else:
        note = (looked + "; nothing answered. Start a model server there, set "
                "BENCHDOCK_ENDPOINTS, or run `benchdock run` without a model to try the "
                "demo model")
    _cache = (now, list(found.values()), note)
    return list(found.values()), note


def forget() -> None:
    """Look again at the next call (tests; a server started meanwhile)."""
    global _cache
    _cache = None


async def endpoints(settings: Settings) -> tuple[list[EndpointConfig], str | None]:
    """The endpoints to use: those configured, else those found on the usual local ports
    (the configured default when none answers), and what discovery found, if it looked."""
    if settings.endpoints_configured:
        return settings.endpoints, None
    found, note = await scan()
    if not found:
        return settings.endpoints, note
    return [EndpointConfig(url=st.url) for st in found], note
