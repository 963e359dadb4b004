"""A swe-local run's live harness: per instance, mini-swe-agent in a confined container of
the project's image, then grading in a fresh one.

For each instance benchdock starts a container (container.py: no network, read-only root,
user 65534, no capabilities, limits), makes /testbed the instance's repository and checks
its commit is the instance's base_commit; runs the agent (drivers/agent.py, in the `swe`
venv on the host: it only sends `docker exec` into that container and talks to the model
through the recording proxy); removes the container; then applies the submitted patch in a
fresh container, runs the tests and grades the log with swebench's own report. Containers
and agent processes are ended by benchdock at the end, on cancel (`close`) and on error.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from typing import Any

import anyio

from benchdock.harnesses.benchmarks.swe import container, grading
from benchdock.harnesses.benchmarks.swe.construct import Instance
from benchdock.harnesses.benchmarks.swe.debugging import first_test_run
from benchdock.harnesses.benchmarks.swe.project import Project, fetch_sdist, swe_image
from benchdock.harnesses.contract.benchmark import Task
from benchdock.harnesses.contract.delegated import HarnessSession, SampleOutcome, SessionContext
from benchdock.harnesses.contract.metrics import wilson
from benchdock.harnesses.envs.driver_source import RELAY, inline
from benchdock.harnesses.envs.managed import ManagedEnv
from benchdock.harnesses.sandbox.base import SandboxError
from benchdock.store.tables import Sample

log = logging.getLogger("benchdock.swe")

DRIVER = inline("benchdock.harnesses.benchmarks.swe.drivers", "agent.py", RELAY)  # with the relay pasted in
CONFIGS = {"text": "swebench_backticks.yaml", "toolcall": "swebench.yaml"}
LOG_KEPT = grading.LOG_KEPT
AGENT_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # litellm fetches a price list at start otherwise
    "MSWEA_SILENT_STARTUP": "1", "MSWEA_COST_TRACKING": "ignore_errors",
    # the proxy retries the endpoint itself; an endpoint failure must end the sample soon
    "MSWEA_MODEL_RETRY_STOP_AFTER_ATTEMPT": "2",
    "OPENAI_API_KEY": "unused-benchdock-proxy", "PYTHONUNBUFFERED": "1",
}


class SweSession(HarnessSession):
    sandbox_kind = "docker"

    def __init__(self, env: ManagedEnv, ctx: SessionContext, project: Project,
                 instances: dict[str, Instance]) -> None:
        self.env, self.ctx, self.project, self.instances = env, ctx, project, instances
        opts = ctx.run.params.get("options") or {}
        self.protocol = str(opts.get("protocol") or "text")
        self.step_limit = int(opts.get("step_limit") or 250)
        self.wall_time_s = int(opts.get("wall_time_limit_s") or 3600)
        self.command_timeout_s = int(opts.get("command_timeout_s") or 60)
        self.image = swe_image(ctx.settings)
        ok, why = _docker_image(self.image)
        if not ok:
            raise SandboxError(f"swe-local needs Docker and {self.image}: {why}. Run "
                               "`benchdock setup swe-local`.")
        self.sdist = fetch_sdist(ctx.settings, project)
        self.isolation = container.isolation_text(self.image)
        self.own_words = grading.own_words(self.sdist, f"{project.name}-{project.version}",
                                           project.sources)
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._boxes: set[container.InstanceContainer] = set()
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

    def _box(self, inst: Instance, purpose: str) -> container.InstanceContainer:
        box = container.start(self.image, purpose, self.sdist)
        try:
            self._track(box)
            base = container.prepare(box, inst.bug_patch)
        except BaseException:
            box.remove()
            self._untrack(box)
            raise
        if base != inst.base_commit:
            box.remove()
            self._untrack(box)
            raise SandboxError(f"{inst.instance_id}: the repository's commit is {base}, not the "
                               f"instance's base_commit {inst.base_commit}")
        return box

    def close(self) -> None:
        with self._lock:
            self.closed = True
            procs, boxes = list(self._procs), list(self._boxes)
            self._procs, self._boxes = set(), set()
        for p in procs:
            p.kill()
        for b in boxes:
            b.remove()

    # --- one instance ----------------------------------------------------------------------

    def _agent(self, inst: Instance, tag: str) -> dict[str, Any]:
        box = self._box(inst, "swe-agent")
        try:
            params = self.ctx.run.params
            extra = {k: params[k] for k in ("temperature", "top_p", "seed", "max_tokens")
                     if params.get(k) is not None}
            cfg = {"container_id": box.id, "image": self.image, "tag": tag,
                   "proxy_socket": str(self.ctx.proxy_socket), "model": self.ctx.run.model,
                   "config": CONFIGS[self.protocol], "protocol": self.protocol,
                   "task": inst.problem_statement, "step_limit": self.step_limit,
                   "wall_time_limit_s": self.wall_time_s,
                   "command_timeout_s": self.command_timeout_s, "extra_params": extra}
            with tempfile.TemporaryDirectory(prefix="benchdock-swe-agent-") as home:
                env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
                       "MSWEA_GLOBAL_CONFIG_DIR": home, **AGENT_ENV}
                proc = subprocess.Popen([str(self.env.python), "-u", "-c", DRIVER], env=env,
                                        cwd=home, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
                self._track(proc)
                # the agent's own wall-time limit is checked between steps: allow one more
                # step (a generation and a command) before benchdock ends it
                budget = self.wall_time_s + self.ctx.settings.request_timeout_s + \
                    self.command_timeout_s + 60
                try:
                    out, err = proc.communicate((json.dumps(cfg) + "\n").encode(), timeout=budget)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
                    return {"status": "timeout", "reason": (
                        f"the agent did not finish within {budget:.0f}s; it and its container "
                        "were ended")}
                finally:
                    self._untrack(proc)
            if self.closed:
                raise SandboxError("the run was stopped")
            for line in out.decode(errors="replace").splitlines():
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if isinstance(msg, dict) and isinstance(msg.get("result"), dict):
                    result: dict[str, Any] = msg["result"]
                    result["stderr_tail"] = err.decode(errors="replace")[-1500:]
                    return result
            return {"status": "crashed", "reason": (f"the agent exited ({proc.returncode}) "
                                                    "without a result"),
                    "stderr_tail": err.decode(errors="replace")[-3000:]}
        finally:
            box.remove()
            self._untrack(box)

    def _grade(self, inst: Instance, patch: str) -> dict[str, Any]:
        box = self._box(inst, "swe-grade")
        try:
            t0 = time.monotonic()
            test_log = grading.run_tests(box, self.project.test_dirs, patch, inst.test_patch)
            test_s = time.monotonic() - t0
        finally:
            box.remove()
            self._untrack(box)
        job = {"op": "report", "instance_id": inst.instance_id, "repo": inst.repo,
               "version": inst.version, "FAIL_TO_PASS": inst.FAIL_TO_PASS,
               "PASS_TO_PASS": inst.PASS_TO_PASS, "model_patch": patch, "log": test_log}
        official = grading.swebench(self.env.python, [job])[0]
        own = grading.own_report(test_log, inst.FAIL_TO_PASS, inst.PASS_TO_PASS, patch)
        return {"official": official, "own": own, "log": test_log, "test_s": round(test_s, 3),
                "reach": grading.runner_reach(patch, self.project.test_dirs, self.own_words)}

    def _solve_blocking(self, inst: Instance, tag: str) -> SampleOutcome:
        t0 = time.monotonic()
        agent = self._agent(inst, tag)
        if agent.get("status") != "done":
            return SampleOutcome(completion="", verdict="timeout" if agent.get("status") ==
                                 "timeout" else "error",
                                 detail=f"agent {agent.get('status')}: {agent.get('reason')}",
                                 extra={"agent": agent, "instance_id": inst.instance_id})
        patch = str(agent.get("submission") or "")
        graded = self._grade(inst, patch)
        return outcome(inst, agent, graded, time.monotonic() - t0, self.protocol,
                       self.step_limit, self.wall_time_s)

    async def solve(self, task: Task, tag: str) -> SampleOutcome:
        inst = self.instances[task.id]
        return await anyio.to_thread.run_sync(self._solve_blocking, inst, tag,
                                              abandon_on_cancel=True)

    async def summarise(self, samples: list[Sample]) -> dict[str, Any]:
        return summary(samples, self.protocol)


def touched_files(patch: str) -> list[str]:
    import re

    return sorted(set(re.findall(r"^\+\+\+ b/(\S+)", patch, re.M)) |
                  set(re.findall(r"^diff --git a/\S+ b/(\S+)", patch, re.M)))


def outcome(inst: Instance, agent: dict[str, Any], graded: dict[str, Any], wall_s: float,
            protocol: str, step_limit: int, wall_time_s: int) -> SampleOutcome:
    """One instance's verdict (swebench's `resolved`) with its evidence."""
    official, own = graded["official"], graded["own"]
    patch = str(agent.get("submission") or "")
    steps = agent.get("trajectory") or []
    asked = [s for s in steps if s.get("role") in ("assistant", "format_error")]
    prompt = sum(int(s.get("prompt_tokens") or 0) for s in asked)
    completion_t = sum(int(s.get("completion_tokens") or 0) for s in asked)
    tests = official.get("tests_status") or {}
    reach: list[str] = list(graded.get("reach") or [])
    touched = touched_files(patch)
    gold = inst.gold_files()
    extra = {
        "instance_id": inst.instance_id, "construction": inst.construction,
        "exit_status": agent.get("exit_status"), "agent_error": agent.get("crashed"),
        "steps": agent.get("steps"), "format_errors": sum(1 for s in asked if s.get("role") ==
                                                          "format_error"),
        "step_limit": step_limit, "wall_time_limit_s": wall_time_s,
        "protocol": protocol, "config": CONFIGS[protocol], "agent_wall_s": agent.get("wall_s"),
        "wall_s": round(wall_s, 3), "prompt_tokens": prompt, "completion_tokens": completion_t,
        "patch": patch, "patch_applied": bool(official.get("patch_successfully_applied")),
        "resolved": bool(official.get("resolved")),
        "FAIL_TO_PASS": tests.get("FAIL_TO_PASS"), "PASS_TO_PASS": {
            "success": len((tests.get("PASS_TO_PASS") or {}).get("success", [])),
            "failure": (tests.get("PASS_TO_PASS") or {}).get("failure", [])},
        "touched_files": touched, "gold_files": gold,
        "touched_gold_files": bool(set(touched) & set(gold)),
        "grading_agrees": own.get("resolved") == official.get("resolved"),
        "test_log": graded["log"][-LOG_KEPT:], "test_s": graded.get("test_s"),
        "first_test_run": first_test_run(steps), "runner_reach": reach[:20],
        "trajectory": steps,
    }
    if official.get("resolved") and reach:
        extra.update(resolved=False, resolved_by_report=True)
        return SampleOutcome(completion=patch, code=patch, verdict="fail", extra=extra,
                             detail=(f"not resolved: the tests pass, but the patch reaches for "
                                     f"the test runner or the interpreter around the code "
                                     f"({len(reach)} line(s), e.g. {reach[0]!r}); benchdock does "
                                     "not count a verdict the patch could have forged"))
    if official.get("resolved"):
        return SampleOutcome(completion=patch, code=patch, verdict="pass", extra=extra,
                             detail=(f"resolved (swebench's report): all "
                                     f"{len(inst.FAIL_TO_PASS)} FAIL_TO_PASS and "
                                     f"{len(inst.PASS_TO_PASS)} PASS_TO_PASS tests pass"))
    if not patch.strip():
        why = f"no patch submitted (exit status {agent.get('exit_status')})"
    elif not official.get("patch_successfully_applied"):
        why = "the submitted patch does not apply or the tests did not run"
    else:
        f2p_fail = (tests.get("FAIL_TO_PASS") or {}).get("failure", [])
        p2p_fail = (tests.get("PASS_TO_PASS") or {}).get("failure", [])
        why = (f"{len(f2p_fail)} of {len(inst.FAIL_TO_PASS)} FAIL_TO_PASS still fail, "
               f"{len(p2p_fail)} PASS_TO_PASS broken")
    return SampleOutcome(completion=patch, code=patch, verdict="fail", extra=extra,
                         detail=f"not resolved: {why}; {agent.get('steps')} steps, exit status "
                                f"{agent.get('exit_status')}")


def summary(samples: list[Sample], protocol: str) -> dict[str, Any]:
    """Resolved rate with its interval, localization, exit statuses, steps and tokens."""
    done = [s for s in samples if s.verdict is not None]
    ex = [s.extra or {} for s in done]
    resolved = sum(1 for s in done if s.verdict == "pass")
    lo, hi = wilson(resolved, len(done))
    statuses: dict[str, int] = defaultdict(int)
    for e in ex:
        statuses[str(e.get("exit_status") or "error")] += 1
    graded = [e for e in ex if "touched_gold_files" in e]
    return {
        "protocol": protocol, "config": CONFIGS.get(protocol),
        "n": len(done), "resolved": resolved,
        "resolved_rate": resolved / len(done) if done else None, "ci95": [lo, hi],
        "touched_gold_files": (sum(1 for e in graded if e["touched_gold_files"]) / len(graded)
                               if graded else None),
        "patch_applied": sum(1 for e in graded if e.get("patch_applied")),
        "exit_statuses": dict(statuses),
        "mean_steps": (sum(int(e.get("steps") or 0) for e in graded) / len(graded)
                       if graded else None),
        "tokens": sum(int(e.get("prompt_tokens") or 0) + int(e.get("completion_tokens") or 0)
                      for e in graded),
        "grading_disagreements": sum(1 for e in graded if e.get("grading_agrees") is False),
        "runner_reach": sum(1 for e in graded if e.get("runner_reach")),
        "debugging": _debugging(done),
    }


def _debugging(done: list[Sample]) -> dict[str, Any]:
    """Resolved among instances whose first pytest run in the trajectory failed."""
    seen = [s for s in done if ((s.extra or {}).get("first_test_run") or {}).get("failed")]
    return {"n": len(seen), "resolved": sum(1 for s in seen if s.verdict == "pass"),
            "ran_tests": sum(1 for s in done if (s.extra or {}).get("first_test_run"))}


def _docker_image(image: str) -> tuple[bool, str]:
    try:
        from benchdock.harnesses.benchmarks.swe.project import image_exists

        return (True, "") if image_exists(image) else (False, f"image {image} is not built")
    except SandboxError as exc:
        return False, str(exc)
