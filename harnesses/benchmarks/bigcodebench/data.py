"""BigCodeBench's tasks, where bigcodebench 0.2.5 finds them.

- `BIGCODEBENCH_OVERRIDE_PATH` (upstream's own variable, read as upstream reads it): a local
  JSON-lines file (gzipped or not) of the full set; upstream uses it for every subset.
- Otherwise the files the `bigcodebench` package caches when it loads the data from the
  Hugging Face hub (`bigcode/bigcodebench`, and `bigcode/bigcodebench-hard` for the
  148-task Hard subset, split v0.1.4): `benchdock setup bigcodebench` runs the package's own
  `get_bigcodebench` in a venv of its own (`environment.py`), which writes them to its cache
  directory (`~/.cache/bigcodebench/BigCodeBench[-Hard]-v0.1.4.jsonl`).

The Hard subset has no local source but the hub: where the hub is out of reach (as on this
project's machines), its ids say so and cannot run.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import platformdirs

from benchdock.harnesses.contract.benchmark import DatasetUnavailable

VERSION = "v0.1.4"  # bigcodebench 0.2.5's BIGCODEBENCH_VERSION
OVERRIDE = "BIGCODEBENCH_OVERRIDE_PATH"
Subset = Literal["full", "hard"]
TASKS = {"full": 1140, "hard": 148}
FIELDS = ("task_id", "complete_prompt", "instruct_prompt", "canonical_solution", "code_prompt",
          "test", "entry_point", "libs")


def cache_file(subset: Subset) -> Path:
    """Where the bigcodebench package caches a subset it loaded from the hub."""
    extra = "-Hard" if subset == "hard" else ""
    return Path(platformdirs.user_cache_dir("bigcodebench")) / f"BigCodeBench{extra}-{VERSION}.jsonl"


def source(subset: Subset) -> Path | None:
    """The file this subset loads from here, or None."""
    override = os.environ.get(OVERRIDE)
    if override:
        return Path(override)
    path = cache_file(subset)
    return path if path.is_file() else None


def missing_reason(subset: Subset) -> str | None:
    """Why the subset cannot load here, or None (cheap: no download)."""
    override = os.environ.get(OVERRIDE)
    if override and not Path(override).is_file():
        return f"{OVERRIDE}={override} is not a file"
    if override and subset == "hard":
        return (f"the Hard subset's 148-task list comes only from the Hugging Face hub "
                f"(bigcode/bigcodebench-hard); {OVERRIDE} holds the full set (as upstream, "
                "which reads it for every subset, benchdock does not pretend it is Hard)")
    if source(subset) is None:
        hub = "bigcode/bigcodebench-hard" if subset == "hard" else "bigcode/bigcodebench"
        return (f"the data are not here: run `benchdock setup bigcodebench` (the bigcodebench "
                f"package loads {hub} {VERSION} from the Hugging Face hub, ~2 MB), or set "
                f"{OVERRIDE} to a local copy of BigCodeBench {VERSION} (JSON lines)")
    return None


@dataclass(frozen=True)
class Loaded:
    rows: tuple[dict[str, Any], ...]
    digest: str  # md5 of the file, as upstream's get_bigcodebench_hash
    path: str


@cache
def _read(path: str, mtime: float) -> Loaded:
    raw = Path(path).read_bytes()
    text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    rows = []
    for n, line in enumerate(text.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise DatasetUnavailable(f"{path}, line {n}: not JSON ({exc})") from None
        missing = [f for f in FIELDS if f not in row]
        if missing:
            raise DatasetUnavailable(f"{path}, line {n}: a BigCodeBench task lacks {missing}")
        rows.append(row)
    return Loaded(tuple(rows), hashlib.md5(raw).hexdigest(), path)


def load(subset: Subset) -> Loaded:
    why = missing_reason(subset)
    if why is not None:
        raise DatasetUnavailable(why)
    path = source(subset)
    assert path is not None
    return _read(str(path), path.stat().st_mtime)
