"""What each endpoint listed the last time it answered, kept in the home.

A llama.cpp-style server answers `/v1/models` only between completions (one lock): while a
CPU-served model generates for a run, a listing can wait longer than any probe, and the
endpoint looks down. A model is not "unknown" because its server is busy: `find_model` falls
back on the listing remembered here when the endpoint timed out (not when it refused the
connection or answered an error), and says so in the status it returns."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from benchdock.harnesses.client.endpoints import EndpointStatus

FILE = "endpoints-seen.json"


def remember(home: Path, statuses: list[EndpointStatus]) -> None:
    """Keep the listings of the endpoints that answered (atomically: clients share a home)."""
    up = [st for st in statuses if st.up and st.models]
    if not up:
        return
    path = home / FILE
    seen = _load(path)
    for st in up:
        seen[st.url] = {"at": time.time(), "status": st.model_dump(mode="json")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{FILE}.{os.getpid()}")
    tmp.write_text(json.dumps(seen))
    os.replace(tmp, path)


def recall(home: Path, url: str) -> tuple[EndpointStatus, float] | None:
    """The endpoint's last listing and when it was made (epoch seconds), if any."""
    got = _load(home / FILE).get(url)
    if not isinstance(got, dict):
        return None
    try:
        return EndpointStatus.model_validate(got["status"]), float(got["at"])
    except (KeyError, TypeError, ValueError):
        return None


def _load(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
