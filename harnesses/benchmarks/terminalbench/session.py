"""A Harbor-format run's live harness: per task, Harbor's Terminus-2 in the task's container,
then the task's tests in a fresh container of what the agent left.

For each task benchdock builds or finds its image (images.py), starts the agent's container
with task.toml's resources and network (container.py), and runs the agent (drivers/
terminus.py in the harbor venv on the host: it only sends `docker exec` into that container
and talks to the model through the recording proxy) under task.toml's agent timeout, which
the driver enforces and benchdock backs with a hard kill; storage_mb is watched while it
works. Then every process of that container is killed, its filesystem committed, and the
verifier runs (verify.py). Containers, committed images and agent processes are removed by
benchdock at the end of each task, on cancel (`close`) and on error.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from typing import Any

import anyio

from benchdock.harnesses.benchmarks.terminalbench import container, images, tools
from benchdock.harnesses.benchmarks.terminalbench.taskfmt import HarborTask
from benchdock.harnesses.benchmarks.terminalbench.verify import VerifierResult, run_verifier
from benchdock.harnesses.contract.benchmark import Task
from benchdock.harnesses.contract.delegated import HarnessSession, SampleOutcome, SessionContext
from benchdock.harnesses.contract.metrics import wilson
from benchdock.harnesses.envs.driver_source import RELAY, inline
from benchdock.harnesses.envs.managed import ManagedEnv
from benchdock.harnesses.sandbox.base import SandboxError
from benchdock.store.tables import Sample

log = logging.getLogger("benchdock.tbench")

DRIVER = inline("benchdock.harnesses.benchmarks.terminalbench.drivers", "terminus.py", RELAY)
AGENT = "terminus-2"
SETUP_TIMEOUT_S = 360.0  # Harbor's agent-setup timeout (tmux started in the container)
STORAGE_POLL_S = 10.0
AGENT_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # litellm fetches a price list at start otherwise
    "OPENAI_API_KEY": "unused-benchdock-proxy", "PYTHONUNBUFFERED": "1",
    "HARBOR_TELEMETRY": "0", "DO_NOT_TRACK": "1",
}
# what the terminal shows when a command failed (for the error-recovery figure)
ERROR_SEEN = re.compile(r"command not found|No such file or directory|Traceback \(most recent|"
                        r"\berror\b|\bfailed\b|Permission denied|cannot |fatal:", re.I)


class TbenchSession(HarnessSession):
    sandbox_kind = "docker"

    def __init__(self, env: ManagedEnv, ctx: SessionContext, tasks: dict[str, HarborTask],
                 pull: bool = True, prepare_tools: bool = False) -> None:
        self.env, self.ctx, self.tasks, self.pull = env, ctx, tasks, pull
        opts = ctx.run.params.get("options") or {}
        self.max_turns = int(opts.get("max_turns") or 50)
        self.parser = str(opts.get("parser") or "json")
        self.multiplier = float(opts.get("timeout_multiplier") or 1.0)
        self.agent_multiplier = float(opts.get("agent_timeout_multiplier") or 1.0)
        self.summarize = bool(opts.get("summarize", True))
        mode = str(opts.get("verifier_tools") or "auto")
        self.prepare_tools = mode == "prepare" or (mode == "auto" and prepare_tools)
        self.use_tools = mode != "none"
        self.isolation = container.isolation_text()
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._boxes: set[container.TaskContainer] = set()
        self._lock = threading.Lock()
        self.closed = False

    # --- lifecycle of what a sample starts -------------------------------------------------

    def _track(self, thing: Any) -> None:
        with self._lock:
            if self.closed:
                thing.kill() if isinstance(thing, subprocess.Popen) else thing.remove()
                raise SandboxError("the run was stopped")
            (self._procs if isinstance(thing, subprocess.Popen) else self._boxes).add(thing)

    def _untrack(self, thing: Any) -> None:
        with self._lock:
            self._procs.discard(thing)
            self._boxes.discard(thing)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            procs, boxes = list(self._procs), list(self._boxes)
            self._procs, self._boxes = set(), set()
        for p in procs:
            p.kill()
        for b in boxes:
            b.remove()

    # --- one task --------------------------------------------------------------------------

    def _agent(self, task: HarborTask, box: container.TaskContainer, tag: str,
               timeout_s: float) -> dict[str, Any]:
        params = self.ctx.run.params
        extra = {k: params[k] for k in ("temperature", "top_p", "seed", "max_tokens")
                 if params.get(k) is not None}
        cfg = {"container_id": box.id, "task": task.name, "tag": tag,
               "proxy_socket": str(self.ctx.proxy_socket), "model": self.ctx.run.model,
               "instruction": task.instruction, "max_turns": self.max_turns,
               "parser": self.parser, "summarize": self.summarize,
               "agent_timeout_s": timeout_s, "setup_timeout_s": SETUP_TIMEOUT_S,
               "extra_params": extra}
        with tempfile.TemporaryDirectory(prefix="benchdock-tbench-agent-") as home:
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
                   **AGENT_ENV}
            proc = subprocess.Popen([str(self.env.python), "-u", "-c", DRIVER], env=env,
                                    cwd=home, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            self._track(proc)
            watch = _StorageWatch(box, task.storage_mb, proc)
            watch.start()
            # the driver stops the agent at the timeout itself; benchdock ends it when a
            # generation or a command it was waiting for outlives that by a minute
            budget = SETUP_TIMEOUT_S + timeout_s + self.ctx.settings.request_timeout_s + 60
            try:
                out, err = proc.communicate((json.dumps(cfg) + "\n").encode(), timeout=budget)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
                return {"status": "timeout", "reason": (
                    f"the agent did not stop within {budget:.0f}s (agent timeout "
                    f"{timeout_s:.0f}s): benchdock killed it"), "steps": [],
                    "stderr_tail": err.decode(errors="replace")[-1500:]}
            finally:
                watch.stop()
                self._untrack(proc)
        if self.closed:
            raise SandboxError("the run was stopped")
        if watch.exceeded is not None:
            return {"status": "storage_exceeded", "reason": watch.exceeded, "steps": [],
                    "stderr_tail": err.decode(errors="replace")[-1500:]}
        for line in out.decode(errors="replace").splitlines():
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if isinstance(msg, dict) and isinstance(msg.get("result"), dict):
                result: dict[str, Any] = msg["result"]
                result["stderr_tail"] = err.decode(errors="replace")[-1500:]
                return result
        return {"status": "crashed", "reason": f"the agent exited ({proc.returncode}) without "
                "a result", "steps": [], "stderr_tail": err.decode(errors="replace")[-3000:]}

    def _solve_blocking(self, task: HarborTask, tag: str) -> SampleOutcome:
        t0 = time.monotonic()
        image, how = images.ensure_image(task, self.pull)
        kit = None
        if self.use_tools:
            kit_image = tools.prepare(task, image) if self.prepare_tools else \
                tools.tools_tag(task, image)
            roots = tools.prepared(kit_image)
            kit = (kit_image, roots) if roots is not None else None
        build_s = time.monotonic() - t0
        timeout_s = task.agent_timeout_s * self.multiplier * self.agent_multiplier
        box = container.start(image, "tbench-agent", cpus=task.cpus, memory_mb=task.memory_mb,
                              network=task.network, workdir=task.workdir, env=task.env)
        try:
            self._track(box)
            t1 = time.monotonic()
            agent = self._agent(task, box, tag, timeout_s)
            agent_s = time.monotonic() - t1
            box.kill()  # every process the agent started ends here
            if self.closed:
                raise SandboxError("the run was stopped")
            final = box.commit()
            t2 = time.monotonic()
            verified = run_verifier(task, final, task.verifier_timeout_s * self.multiplier,
                                    track=self._track, untrack=self._untrack, tools=kit)
            verify_s = time.monotonic() - t2
        finally:
            box.remove()
            self._untrack(box)
        timings = {"image": how, "image_s": round(build_s, 3), "agent_s": round(agent_s, 3),
                   "verify_s": round(verify_s, 3), "wall_s": round(time.monotonic() - t0, 3)}
        return outcome(task, agent, verified, timings, timeout_s, self.max_turns)

    async def solve(self, task: Task, tag: str) -> SampleOutcome:
        return await anyio.to_thread.run_sync(self._solve_blocking, self.tasks[task.id], tag,
                                              abandon_on_cancel=True)

    async def summarise(self, samples: list[Sample]) -> dict[str, Any]:
        return summary(samples)


class _StorageWatch:
    """task.toml's storage_mb, enforced: the container's writable layer is measured every
    few seconds while the agent works, and the agent is ended when it grows past it."""

    def __init__(self, box: container.TaskContainer, limit_mb: int | None,
                 proc: subprocess.Popen[bytes]) -> None:
        self.box, self.limit_mb, self.proc = box, limit_mb, proc
        self.exceeded: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        if self.limit_mb:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(STORAGE_POLL_S):
            size = self.box.rw_size_mb()
            if size is not None and self.limit_mb and size > self.limit_mb:
                self.exceeded = (f"the task's container wrote {size:.0f} MB, past its "
                                 f"storage_mb ({self.limit_mb}): the agent was stopped")
                self.proc.kill()
                self.box.kill()
                return


def _failure_kind(agent: dict[str, Any], verified: VerifierResult) -> str | None:
    """Why a sample did not pass: the agent's timeout, the agent's error, the verifier's
    failure, or the tests' verdict."""
    if verified.passed:
        return None
    status = agent.get("status")
    if status == "timeout":
        return "timeout"
    if status in ("agent_error", "crashed", "setup_failed", "storage_exceeded"):
        return "agent_error"
    if verified.failure is not None:
        return "verifier_failure"
    return "tests_failed"


def saw_error(steps: list[dict[str, Any]]) -> bool:
    """Whether the terminal showed a failure at some point (the error-recovery figure)."""
    return any(ERROR_SEEN.search(str(s.get("terminal") or "")) for s in steps)


def outcome(task: HarborTask, agent: dict[str, Any], verified: VerifierResult,
            timings: dict[str, Any], timeout_s: float, max_turns: int) -> SampleOutcome:
    steps = list(agent.get("steps") or [])
    kind = _failure_kind(agent, verified)
    commands = "\n".join(k for s in steps for k in s.get("keystrokes") or [])
    extra = {
        "task": task.name, "agent": AGENT, "agent_status": agent.get("status"),
        "agent_reason": agent.get("reason"), "episodes": agent.get("episodes"),
        "turns": len(steps), "max_turns": max_turns, "agent_timeout_s": timeout_s,
        # the driver's own clock: tmux set up in the container, then the agent's loop (the
        # rest of agent_s is the driver process starting and importing Harbor)
        "agent_setup_s": agent.get("setup_s"), "agent_run_s": agent.get("wall_s"),
        "input_tokens": agent.get("input_tokens"), "output_tokens": agent.get("output_tokens"),
        "network": task.network, "cpus": task.cpus, "memory_mb": task.memory_mb,
        "storage_mb": task.storage_mb, **timings,
        "reward": verified.reward, "rewards": verified.rewards,
        "verifier": verified.evidence(), "failure": kind, "saw_error": saw_error(steps),
        "trajectory": steps, "stderr_tail": agent.get("stderr_tail"),
    }
    if agent.get("status") == "setup_failed":
        return SampleOutcome(completion=commands, verdict="error", extra=extra, detail=(
            f"the agent could not start in the task's container: {agent.get('reason')}"))
    if verified.passed:
        return SampleOutcome(completion=commands, code=commands, verdict="pass", extra=extra,
                             detail=f"resolved: reward {verified.reward:g} after "
                                    f"{len(steps)} turn(s)")
    if verified.failure is not None:
        why = f"verifier failure: {verified.failure}"
    else:
        why = f"the tests gave reward {verified.reward:g}"
    if kind == "timeout":
        why = f"agent timeout ({agent.get('reason')}); {why}"
    elif kind == "agent_error":
        why = f"agent error ({agent.get('status')}: {agent.get('reason')}); {why}"
    return SampleOutcome(completion=commands, code=commands,
                         verdict="timeout" if kind == "timeout" else "fail", extra=extra,
                         detail=f"not resolved: {why}; {len(steps)} turn(s)")


def summary(samples: list[Sample]) -> dict[str, Any]:
    """Resolved rate with its interval, why the others failed, turns, tokens, timings."""
    done = [s for s in samples if s.verdict is not None]
    ex = [s.extra or {} for s in done]
    resolved = sum(1 for s in done if s.verdict == "pass")
    lo, hi = wilson(resolved, len(done))
    failures: dict[str, int] = defaultdict(int)
    for e in ex:
        if e.get("failure"):
            failures[str(e["failure"])] += 1
    errored = [s for s in done if (s.extra or {}).get("saw_error")]
    return {
        "agent": AGENT, "n": len(done), "resolved": resolved,
        "resolved_rate": resolved / len(done) if done else None, "ci95": [lo, hi],
        "failures": dict(failures),
        "mean_turns": (sum(int(e.get("turns") or 0) for e in ex) / len(ex)) if ex else None,
        "tokens": sum(int(e.get("input_tokens") or 0) + int(e.get("output_tokens") or 0)
                      for e in ex),
        "recovery": {"n": len(errored), "resolved": sum(1 for s in errored
                                                         if s.verdict == "pass")},
        "agent_s": round(sum(float(e.get("agent_s") or 0) for e in ex), 1),
        "verify_s": round(sum(float(e.get("verify_s") or 0) for e in ex), 1),
    }
