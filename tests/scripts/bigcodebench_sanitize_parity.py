"""benchdock's port of bigcodebench 0.2.5's sanitiser against the original (not collected by
pytest).

    [EVERY=N] python tests/scripts/bigcodebench_sanitize_parity.py WHEEL_DIR [ANSWERS.jsonl ...]

WHEEL_DIR holds bigcodebench 0.2.5 unpacked (`pip download --no-deps bigcodebench==0.2.5`,
then unzip): its `sanitize` module is imported from there, with the modules it imports only
for its command line (pqdm, and bigcodebench.data, which needs `datasets`) stubbed. Inputs:
for every task of BIGCODEBENCH_OVERRIDE_PATH, the canonical answer and variants a model
writes (prose around the block, a `__main__` block, a usage line, a helper, a second
definition, an answer without a fence, an empty answer); plus the `completion` of every line
of the JSON-lines files given (e.g. a run's answers). Prints how many outputs are identical
and every difference.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "datasets" / "bigcodebench" / "BigCodeBench-v0.1.4.jsonl.gz"


def upstream_sanitize(wheel_dir: str) -> object:
    for name in ("pqdm", "pqdm.processes"):
        mod = types.ModuleType(name)
        mod.pqdm = None  # type: ignore[attr-defined]
        sys.modules[name] = mod
    data = types.ModuleType("bigcodebench.data")
    for attr in ("get_bigcodebench", "load_solutions", "write_directory", "write_jsonl"):
        setattr(data, attr, None)
    sys.modules["bigcodebench.data"] = data
    sys.path.insert(0, wheel_dir)
    import bigcodebench.sanitize as up

    return up.sanitize


def variants(row: dict[str, str]) -> list[str]:
    body = row["complete_prompt"] + row["canonical_solution"]
    ep = row["entry_point"]
    return [
        f"```python\n{body}\n```",
        f"Here is the solution:\n```python\n{body}\n```\nIt uses the libraries above.",
        f"```python\n{body}\n\nif __name__ == '__main__':\n    print({ep}())\n```",
        f"```python\n{body}\n\nresult = {ep}()\nprint(result)\n```",
        f"```python\ndef helper():\n    return 1\n\n{body}\n```",
        f"```python\n{body}\n\ndef {ep}():\n    return None\n```",
        body,
        "",
        f"```python\nimport os\n{body.split(chr(10) + 'def ')[0]}\ndef {ep}(*a): pass\n```",
    ]


def main() -> int:
    wheel_dir = sys.argv[1]
    every = int(os.environ.get("EVERY", "1"))  # every Nth task (code_extract is quadratic)
    theirs = upstream_sanitize(wheel_dir)
    from benchdock.harnesses.benchmarks.bigcodebench.prompt import sanitize as ours

    path = os.environ.get("BIGCODEBENCH_OVERRIDE_PATH") or str(DATA)
    with gzip.open(path, "rt") as fh:
        rows = [json.loads(x) for x in fh]
    cases = [(r["task_id"], v, r["entry_point"]) for r in rows[::every] for v in variants(r)]
    for extra in sys.argv[2:]:
        eps = {r["task_id"]: r["entry_point"] for r in rows}
        for line in Path(extra).read_text().splitlines():
            got = json.loads(line)
            cases.append((got["task_id"], got["completion"], eps[got["task_id"]]))
    same, diff = 0, []
    for tid, answer, ep in cases:
        a, b = ours(answer, ep), theirs(answer, ep)  # type: ignore[operator]
        if a == b:
            same += 1
        else:
            diff.append((tid, answer, a, b))
    print(f"bigcodebench 0.2.5's sanitize vs benchdock's: {same}/{len(cases)} identical")
    for tid, answer, a, b in diff[:20]:
        print(f"--- {tid}\nanswer: {answer[:300]!r}\nbenchdock: {a[:300]!r}\nupstream: {b[:300]!r}")
    return 0 if not diff else 1


if __name__ == "__main__":
    sys.exit(main())
