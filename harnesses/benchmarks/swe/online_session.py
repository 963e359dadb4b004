"""An online SWE-bench run's live harness: swe-local's session (session.py: mini-swe-agent
through the recording proxy, containers benchdock starts and removes, swebench's report) on
the official per-instance images, graded with the instance's own eval script and log parser.

What differs from swe-local, and why:
- The container is one of the instance's official image (pulled if missing, see
  `online.ensure_image`), whose /testbed already holds the repository at base_commit (checked
  before every run) and whose conda environment the eval script activates.
- Those images and their eval scripts run as root and write /testbed and the environment
  (some eval scripts reinstall the package), so the container keeps a writable layer and
  runs as root; everything else of benchdock's confinement stays: no network, no
  capabilities, no new privileges, memory/CPU/process limits, the sandbox label, removal
  at the end, on cancel and on error. swebench's own harness would add SYS_ADMIN; benchdock
  does not.
- Grading applies the patch as swebench's `run_instance` does (git apply, then --3way,
  --reject, then `patch --fuzz=5`), runs the instance's `eval_script` as swebench makes it
  (`make_test_spec`, its test exit code recorded) and decides with swebench's
  `get_eval_report` using the instance's log parser (django's, sympy's, ... by repo).
  benchdock's own reading of the log is a cross-check only where the parser is pytest's.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

from benchdock.harnesses.benchmarks.swe import container, grading
from benchdock.harnesses.benchmarks.swe.construct import Instance
from benchdock.harnesses.benchmarks.swe.online import OnlineInstance, ensure_image
from benchdock.harnesses.benchmarks.swe.project import PROJECTS
from benchdock.harnesses.benchmarks.swe.session import SweSession, outcome
from benchdock.harnesses.contract.delegated import SampleOutcome, SessionContext
from benchdock.harnesses.envs.managed import ManagedEnv
from benchdock.harnesses.sandbox.base import SandboxError
from benchdock.harnesses.sandbox.docker_backend import LABEL, docker_client

MEMORY = "4g"  # the official environments (numpy, matplotlib, astropy) need more than 2 GB
EVAL_TIMEOUT_S = 1800  # swebench's default per-instance test timeout
PATCH_PATH = "/tmp/patch.diff"
# swebench 5.0.2's run_evaluation.GIT_APPLY_CMDS, tried in order from a clean tree
GIT_APPLY_CMDS = ("git apply --verbose", "git apply --verbose --3way",
                  "git apply --verbose --reject", "patch --batch --forward --fuzz=5 -p1 -i")


def isolation_text() -> str:
    lim = container.LIMITS
    return ("docker (each instance's official image), one container per instance for the "
            "agent and a fresh one for grading: no network, no capabilities, no new "
            f"privileges, {MEMORY} memory, {lim['cpus']} CPU, {lim['pids']} processes, "
            "/tmp on tmpfs; root in the container with a writable layer (the images and "
            "their eval scripts need it); removed by benchdock at the end, on cancel and on "
            "error")


def start(image: str, purpose: str) -> container.InstanceContainer:
    """A confined container of an official instance image (see the module's docstring)."""
    import docker.errors

    lim = container.LIMITS
    try:
        c: Any = docker_client().containers.run(
            image, command=["sleep", str(container.CONTAINER_LIFETIME_S)], detach=True,
            network_mode="none", cap_drop=["ALL"], security_opt=["no-new-privileges"],
            working_dir="/testbed", tmpfs={"/tmp": f"rw,exec,nosuid,size={lim['tmp']}"},
            mem_limit=MEMORY, memswap_limit=MEMORY,
            nano_cpus=int(float(lim["cpus"]) * 1e9), pids_limit=int(lim["pids"]),
            environment={**container.ENV, "HOME": "/tmp"},
            labels={LABEL: "1", f"{LABEL}.owner": f"{socket.gethostname()}:{os.getpid()}",
                    f"{LABEL}.purpose": purpose})
    except docker.errors.ImageNotFound as exc:
        raise SandboxError(f"image {image!r} not found") from exc
    except docker.errors.APIError as exc:
        raise SandboxError(f"could not start a container of {image}: {exc}") from exc
    return container.InstanceContainer(id=str(c.id), image=image)


def apply_script() -> str:
    """swebench's patch application, as one script: the first command that applies wins;
    the tree is reset between tries; the markers are swebench's."""
    tries = " ".join(f"'{c}'" for c in GIT_APPLY_CMDS)
    return (f"cd /testbed\nfor cmd in {tries}; do\n"
            f"  if $cmd {PATCH_PATH}; then echo '>>>>> Applied Patch'; exit 0; fi\n"
            "  git checkout -- . ; git clean -fdq\ndone\n"
            f"if git apply --check --reverse {PATCH_PATH}; then echo '>>>>> Applied Patch'; "
            f"exit 0; fi\necho '{grading.APPLY_FAIL}'\nexit 1\n")


class OnlineSession(SweSession):
    """swe-local's session on published instances (see the module's docstring)."""

    def __init__(self, env: ManagedEnv, ctx: SessionContext,
                 instances: dict[str, OnlineInstance], pull: bool = True) -> None:
        # not SweSession.__init__: it builds the local project's image and sdist
        self.env, self.ctx = env, ctx
        self.instances = {k: v for k, v in instances.items()}
        self.project = PROJECTS["toolz"]  # unused online: no sdist, no test_dirs
        opts = ctx.run.params.get("options") or {}
        self.protocol = str(opts.get("protocol") or "text")
        self.step_limit = int(opts.get("step_limit") or 250)
        self.wall_time_s = int(opts.get("wall_time_limit_s") or 3600)
        self.command_timeout_s = int(opts.get("command_timeout_s") or 60)
        self.pull = pull
        self.image = "(per instance)"
        self.isolation = isolation_text()
        self._procs = set()
        self._boxes = set()
        self._lock = threading.Lock()
        self.closed = False

    def _online(self, inst: Instance) -> OnlineInstance:
        if not isinstance(inst, OnlineInstance):
            raise TypeError(f"{inst.instance_id} is not a published instance")
        return inst

    def _box(self, inst: Instance, purpose: str) -> container.InstanceContainer:
        image = ensure_image(self._online(inst).image, self.pull)
        box = start(image, purpose)
        try:
            self._track(box)
            code, out = box.exec("git config --global --add safe.directory /testbed; "
                                 "git rev-parse HEAD", 60)
        except BaseException:
            box.remove()
            self._untrack(box)
            raise
        head = out.strip().splitlines()[-1] if out.strip() else ""
        if code != 0 or head != inst.base_commit:
            box.remove()
            self._untrack(box)
            raise SandboxError(f"{inst.instance_id}: /testbed of {image} is at "
                               f"{head or out[-300:]!r}, not the instance's base_commit "
                               f"{inst.base_commit}")
        return box

    def _grade(self, inst: Instance, patch: str) -> dict[str, Any]:
        online = self._online(inst)
        script = self._eval_script(online)
        box = self._box(inst, "swe-grade")
        try:
            t0 = time.monotonic()
            applied, log = "", ""
            code = 0  # as swebench: an empty patch is applied as nothing
            if patch.strip():
                box.put(PATCH_PATH, patch.encode())
                code, applied = box.exec(apply_script(), 300)
            apply_failed = code != 0
            if not apply_failed:
                box.put("/tmp/eval.sh", script.encode())
                # one stream, in order, as swebench's exec_run reads it (the markers are
                # bash's xtrace on stderr, the tests' output on stdout)
                code, log = box.exec("bash /tmp/eval.sh 2>&1", EVAL_TIMEOUT_S)
                log += "\n>>>>> Tests Timed Out\n" if code == 137 else ""
            else:
                log = applied  # ends with swebench's ">>>>> Patch Apply Failed"
            test_s = time.monotonic() - t0
        finally:
            box.remove()
            self._untrack(box)
        # graded on the test output alone, as swebench's test_output.txt; the evidence keeps
        # the patch application's messages before it
        graded = grade_log(self.env, online, patch, log, round(test_s, 3))
        graded["log"] = log if apply_failed else applied + log
        return graded

    def _eval_script(self, inst: OnlineInstance) -> str:
        return str(grading.swebench(self.env.python, [{"op": "eval_script",
                                                       "instance": eval_fields(inst)}])[0])

    def _solve_blocking(self, inst: Instance, tag: str) -> SampleOutcome:
        """swe-local's flow; a missing image that cannot be pulled fails the run (a
        SandboxError naming the image), as any sandbox that cannot run does."""
        online = self._online(inst)
        t0 = time.monotonic()
        agent = self._agent(inst, tag)
        if agent.get("status") != "done":
            return SampleOutcome(completion="", verdict="timeout" if agent.get("status") ==
                                 "timeout" else "error",
                                 detail=f"agent {agent.get('status')}: {agent.get('reason')}",
                                 extra={"agent": agent, "instance_id": inst.instance_id,
                                        "image": online.image})
        patch = str(agent.get("submission") or "")
        graded = self._grade(inst, patch)
        return online_outcome(online, agent, graded, time.monotonic() - t0, self.protocol,
                              self.step_limit, self.wall_time_s)


def eval_fields(inst: OnlineInstance) -> dict[str, Any]:
    """What swebench's make_test_spec reads."""
    return {"instance_id": inst.instance_id, "image": inst.image, "repo": inst.repo,
            "version": inst.version, "FAIL_TO_PASS": inst.FAIL_TO_PASS,
            "PASS_TO_PASS": inst.PASS_TO_PASS, "log_parser": inst.log_parser or None,
            "eval_type": inst.eval_type, "eval_script": inst.eval_script}


def grade_log(env: ManagedEnv, inst: OnlineInstance, patch: str, log: str,
              test_s: float) -> dict[str, Any]:
    """swebench's report on a test log with the instance's parser; benchdock's own pytest
    reading beside it only where that parser is pytest's."""
    job = {"op": "report", "instance_id": inst.instance_id, "repo": inst.repo,
           "version": inst.version, "FAIL_TO_PASS": inst.FAIL_TO_PASS,
           "PASS_TO_PASS": inst.PASS_TO_PASS, "model_patch": patch, "log": log,
           "log_parser": inst.log_parser or None, "eval_type": inst.eval_type}
    parser_job = {"op": "parser", "repo": inst.repo, "log_parser": inst.log_parser or None}
    official, parser = grading.swebench(env.python, [job, parser_job])
    own = (grading.own_report(log, inst.FAIL_TO_PASS, inst.PASS_TO_PASS, patch)
           if parser == "parse_log_pytest" else {"resolved": official.get("resolved")})
    return {"official": official, "own": own, "log": log, "test_s": test_s, "parser": parser,
            "own_checked": parser == "parse_log_pytest"}


def online_outcome(inst: OnlineInstance, agent: dict[str, Any], graded: dict[str, Any],
                   wall_s: float, protocol: str, step_limit: int,
                   wall_time_s: int) -> SampleOutcome:
    """swe-local's verdict and evidence, plus the parser and the image."""
    done = outcome(inst, agent, graded, wall_s, protocol, step_limit, wall_time_s)
    done.extra.update(image=inst.image, grading_parser=graded.get("parser"),
                      # swebench's advisory: no test output, likely the environment's fault
                      infra_failure=graded["official"].get("infra_failure_reason"))
    if not graded.get("own_checked"):
        done.extra["grading_agrees"] = None  # no own reading of this parser's format
    return done
