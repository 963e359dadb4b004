"""The debugging row of swe-local: did the agent see a failing test run, and fix it anyway?

An instance counts for debugging when the trajectory's first test run failed: the first
command the agent ran that invokes pytest (`pytest`, `py.test`, `python -m pytest`, also
inside a longer command line), judged by its observation. That run failed when pytest's exit
status says so (1: tests failed, 2: interrupted or collection errors; only when the command
line is pytest's own, not piped) or when its output carries pytest's failure marks (a
`N failed`/`N error(s)` summary, a `FAILED `/`ERROR ` line, or a collection error). Such an
instance scores 1 when resolved, 0 when not; instances whose agent never ran pytest, or saw
it pass first, are not counted (the row reads "resolved after seeing tests fail").
"""

from __future__ import annotations

import re
from typing import Any

PYTEST = re.compile(r"(^|[\s;&|(`])(py\.test|pytest|python[0-9.]*\s+-m\s+pytest)(?=$|[\s;&|)`])")
FAILED = re.compile(r"\b\d+ (failed|errors?)\b|^(FAILED|ERROR) |errors? during collection|"
                    r"^E\s+\w*Error", re.M)


def first_test_run(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first pytest run in a trajectory (as drivers/agent.py's trajectory records it: an
    assistant step with its commands, then an observation): its step number, command, exit
    status and whether it failed; None when the agent never ran pytest."""
    for i, step in enumerate(steps):
        if step.get("role") != "assistant":
            continue
        cmd = next((c for c in step.get("commands") or [] if PYTEST.search(str(c))), None)
        if cmd is None:
            continue
        obs = steps[i + 1] if i + 1 < len(steps) and steps[i + 1].get("role") == \
            "observation" else {}
        code = obs.get("returncode")
        out = str(obs.get("output") or "")
        piped = "|" in str(cmd).replace("||", "")
        failed = bool(FAILED.search(out)) or (not piped and code in (1, 2))
        return {"step": sum(1 for s in steps[:i + 1] if s.get("role") == "assistant"),
                "command": str(cmd)[:300], "returncode": code, "failed": failed}
    return None
