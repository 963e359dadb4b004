"""Whether a download source answers from here, asked rarely.

Readiness is listed often (list_benchmarks, doctor) and must stay cheap, yet "ready" must
not claim a dataset that EvalPlus would fail to download on this machine: a HEAD request
with a short timeout, remembered for ten minutes per URL.
"""

from __future__ import annotations

import time
import urllib.request

TTL_S = 600.0
_seen: dict[str, tuple[float, str | None]] = {}


def unreachable(url: str, timeout_s: float = 3.0) -> str | None:
    """Why `url` cannot be fetched from here; None when it answers."""
    now = time.monotonic()
    hit = _seen.get(url)
    if hit is not None and now - hit[0] < TTL_S:
        return hit[1]
    why: str | None = None
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout_s)
    except Exception as exc:
        reason = getattr(exc, "reason", None) or exc
        why = f"{type(exc).__name__}: {reason}"
    _seen[url] = (now, why)
    return why
