"""The verifier: the task's tests/test.sh in a fresh container of the agent's final
filesystem (container.py says what the agent cannot reach there), and the reward it wrote,
read as Harbor reads it: /logs/verifier/reward.json (a number, or a table of numbers) before
/logs/verifier/reward.txt (one number).

A sample passes when its reward is 1: the `reward` entry of a table, its only entry, or else
the mean of its entries (TB 2.0's tests write 1 or 0).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from benchdock.harnesses.benchmarks.terminalbench import container
from benchdock.harnesses.benchmarks.terminalbench.taskfmt import HarborTask

OUTPUT_KEPT = 6000  # characters of the tests' output kept as evidence
# as Harbor: a fresh reward directory, the tests copied in, test.sh run from the workdir
# with its output in test-stdout.txt
PREPARE = "rm -rf /tests /logs/verifier && mkdir -p /logs/verifier && chmod 777 /logs/verifier"
RUN = "chmod +x /tests/test.sh && /tests/test.sh > /logs/verifier/test-stdout.txt 2>&1"


@dataclass
class VerifierResult:
    reward: float | None
    rewards: dict[str, float] = field(default_factory=dict)
    failure: str | None = None  # why there is no reward (verifier failure)
    exit_code: int | None = None
    timed_out: bool = False
    output: str = ""
    wall_s: float = 0.0
    files: list[str] = field(default_factory=list)
    tools: str | None = None  # the prepared tools image copied in, if any (tools.py)

    @property
    def passed(self) -> bool:
        return self.reward is not None and self.reward >= 1.0 - 1e-9

    def evidence(self) -> dict[str, Any]:
        return {"reward": self.reward, "rewards": self.rewards, "failure": self.failure,
                "exit_code": self.exit_code, "timed_out": self.timed_out,
                "output": self.output[-OUTPUT_KEPT:], "wall_s": round(self.wall_s, 3),
                "files": self.files, "tools": self.tools}


def parse_reward(files: dict[str, bytes]) -> tuple[float | None, dict[str, float], str | None]:
    """(headline reward, all rewards, why there is none) from /logs/verifier's files."""
    if "reward.json" in files:
        raw = files["reward.json"]
        try:
            data = json.loads(raw)
        except ValueError:
            return None, {}, f"reward.json is not JSON: {raw[:200]!r}"
        values = data if isinstance(data, dict) else {"reward": data}
        rewards: dict[str, float] = {}
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or \
                    not math.isfinite(float(value)):
                return None, {}, f"reward.json holds a non-numeric reward {key}={value!r}"
            rewards[str(key)] = float(value)
        if not rewards:
            return None, {}, "reward.json is empty"
        if "reward" in rewards:
            return rewards["reward"], rewards, None
        if len(rewards) == 1:
            return next(iter(rewards.values())), rewards, None
        return sum(rewards.values()) / len(rewards), rewards, None
    if "reward.txt" in files:
        text = files["reward.txt"].decode("utf-8", "replace").strip()
        try:
            value = float(text)
        except ValueError:
            return None, {}, f"reward.txt is not a number: {text[:200]!r}"
        if not math.isfinite(value):
            return None, {}, f"reward.txt is not finite: {text!r}"
        return value, {"reward": value}, None
    return None, {}, "the tests wrote no /logs/verifier/reward.txt or reward.json"


def run_verifier(task: HarborTask, final_image: str, timeout_s: float,
                 track: Any = None, untrack: Any = None,
                 tools: tuple[str, list[str]] | None = None) -> VerifierResult:
    """The task's tests on `final_image` (the agent's committed filesystem), with the
    prepared verifier tools (tools.py: an image and its paths) copied in first, if any."""
    from benchdock.harnesses.benchmarks.terminalbench.tools import OFFLINE_ENV, overlay

    box = container.start(final_image, "tbench-verify", cpus=task.cpus,
                          memory_mb=task.memory_mb, network="no-network",
                          workdir=task.workdir, env=task.env)
    if track is not None:
        track(box)
    try:
        code, out = box.exec(PREPARE, 60)
        if code != 0:
            return VerifierResult(reward=None, failure=f"could not prepare the verifier: "
                                  f"{out[-500:]}")
        extra: dict[str, str] = {}
        if tools is not None:
            overlay(tools[0], tools[1], box)
            extra = dict(OFFLINE_ENV)
        box.put_dir(task.tests_dir, "/tests")
        t0 = time.monotonic()
        code, out = box.exec(RUN, timeout_s, workdir=task.workdir,
                             env={**task.env, **task.verifier_env, **extra})
        wall = time.monotonic() - t0
        timed_out = code == 137 and wall >= timeout_s - 1
        box.kill()  # nothing runs any more when the reward is read
        files = box.read_dir("/logs/verifier")
    finally:
        box.remove()
        if untrack is not None:
            untrack(box)
    output = files.get("test-stdout.txt", b"").decode("utf-8", "replace") + out
    reward, rewards, why = parse_reward(files)
    if timed_out:
        why = f"the tests ran past the verifier timeout ({timeout_s:.0f}s) and were killed"
        reward, rewards = None, {}
    return VerifierResult(reward=reward, rewards=rewards, failure=why, exit_code=code,
                          timed_out=timed_out, output=output, wall_s=wall,
                          files=sorted(files), tools=tools[0] if tools else None)
