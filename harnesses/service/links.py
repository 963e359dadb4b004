"""Where a running viewer (`benchdock view`) shows a run, a comparison or a decision.

The viewer records itself in BENCHDOCK_HOME/viewer.json when it starts (its base URL, its
process, the store it serves) and removes the record when it stops; the façade reads the
record to put a `view_url` into results that name a run, a comparison or a decision. So the
core never imports the viewer (it lives in `server/`), and a result carries a link only
while a viewer of the same store runs on this machine: a record left by a viewer that was
killed is ignored (its process is gone), and so is one serving another store.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

RECORD = "viewer.json"


def store_key(database_url: str) -> str:
    """Names a store without saying its URL (which may hold a password)."""
    return hashlib.sha256(database_url.encode()).hexdigest()[:16]


def record_path(home: Path) -> Path:
    return home / RECORD


def write_record(home: Path, url: str, database_url: str, auth: str) -> Path:
    """The viewer's record (written by the viewer once it listens)."""
    path = record_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"url": url.rstrip("/"), "pid": os.getpid(),
                               "host": socket.gethostname(), "auth": auth,
                               "store": store_key(database_url)}))
    tmp.replace(path)
    return path


def remove_record(home: Path) -> None:
    """Remove the record if it is this process's (another viewer may have started since)."""
    path = record_path(home)
    data = _read(path)
    if data is not None and data.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def viewer_base(home: Path, database_url: str) -> str | None:
    """The base URL of the viewer serving this store from this machine, if one runs."""
    data = _read(record_path(home))
    if data is None or data.get("store") != store_key(database_url):
        return None
    if data.get("host") != socket.gethostname() or not _alive(data.get("pid")):
        return None
    url = data.get("url")
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


# the viewer's routes, one place for both sides (server/viewer serves these paths)
def run_path(run_id: str) -> str:
    return f"/runs/{quote(run_id, safe='')}"


def compare_path(models: Sequence[str] | None = None, benchmark: str | None = None) -> str:
    query: list[tuple[str, str]] = [("models", m) for m in models or ()]
    if benchmark:
        query.append(("benchmark", benchmark))
    return "/compare" + (f"?{urlencode(query)}" if query else "")


def dimensions_path(models: Sequence[str] | None = None) -> str:
    query = [("models", m) for m in models or ()]
    return "/dimensions" + (f"?{urlencode(query)}" if query else "")


def decision_path(decision_id: str) -> str:
    return f"/decisions/{quote(decision_id, safe='')}"


def link(base: str | None, path: str) -> str | None:
    return None if base is None else base + path
