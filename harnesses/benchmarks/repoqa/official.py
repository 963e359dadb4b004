"""RepoQA's own dataset (release 2024-04-20), found where RepoQA itself looks for it.

Like `repoqa/data.py` (0.1.2): `REPOQA_DATA_OVERRIDE_PATH` names a local copy; else RepoQA's
cache (`~/.cache/repoqa/repoqa-2024-04-20.json` on Linux), where `repoqa` and
`benchdock setup repoqa-data` put it after downloading the GitHub release. This machine
cannot reach GitHub: the download and a run on the official data are untested here.
Only its Python repositories are used (benchdock ports RepoQA's matcher for Python only).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import platformdirs

VERSION = "2024-04-20"
URL = (f"https://github.com/evalplus/repoqa_release/releases/download/{VERSION}/"
       f"repoqa-{VERSION}.json.gz")


def cache_path() -> Path:
    """Where RepoQA caches the release (appdirs' user_cache_dir("repoqa"))."""
    return Path(platformdirs.user_cache_dir("repoqa")) / f"repoqa-{VERSION}.json"


def data_path() -> Path | None:
    """The official data here, or None. RepoQA's own variable is read as RepoQA reads it."""
    override = os.environ.get("REPOQA_DATA_OVERRIDE_PATH")
    if override:
        return Path(override)
    found = cache_path()
    return found if found.is_file() else None


@cache
def _load(path: str) -> tuple[dict[str, list[dict[str, Any]]], str]:
    import json

    raw = Path(path).read_bytes()
    data = json.loads(raw)
    return {"python": list(data.get("python", []))}, hashlib.sha256(raw).hexdigest()[:16]


def load() -> tuple[dict[str, list[dict[str, Any]]], str]:
    """The official data's Python part and the file's hash; FileNotFoundError if absent."""
    path = data_path()
    if path is None or not path.is_file():
        raise FileNotFoundError(f"RepoQA's data is not at {path or cache_path()}")
    return _load(str(path))


def download(say: Callable[[str], None]) -> str:
    """Download RepoQA's release into its cache, as `repoqa/data.py` does (untested here)."""
    import httpx

    target = cache_path()
    if target.is_file():
        return str(target)
    say(f"downloading {URL}")
    with httpx.Client(follow_redirects=True, timeout=300) as client:
        resp = client.get(URL)
        resp.raise_for_status()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(gzip.decompress(resp.content))
    tmp.replace(target)
    return str(target)
