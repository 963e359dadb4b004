"""benchdock's mini-swe-agent driver: one SWE-bench-format instance, run by mini-swe-agent's
DefaultAgent with its SWE-bench configuration, in the `swe` venv on the host.

This file is sent as source (`python -c`) and imports nothing from benchdock. It reads one
JSON line on stdin and writes one JSON line, `{"result": ...}`, on a descriptor of its own
(everything mini-swe-agent and litellm print goes to stderr).

The agent never starts a container: benchdock started and prepared one (no network,
benchdock's confinement) and passes its id; the agent's commands run there with `docker
exec`, and benchdock removes it. The model is reached only through benchdock's recording
proxy (a unix socket): a small relay gives litellm an http://127.0.0.1 URL for it.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from typing import Any

from benchdock.harnesses.envs.driver_relay import start_relay  # inlined by the session

PROTOCOL = sys.stdout
TRAJECTORY_OUTPUT_KEPT = 2000  # characters of each observation kept in the result
OUTPUT_CAP = 1_000_000  # bytes of one command's output that leave the container


# After each command, every process it left (background jobs, a fork bomb's, daemons) is
# killed: each that is not PID 1 (the container's reaper), this wrapper or its own children
# (the command's subshell, head). Only shell builtins: under a fork bomb nothing can fork.
# Each round stops them all (a stopped process cannot fork), then kills them; rounds
# repeat until one finds nothing left.
REAP = r"""reap() {
  local round sig p line rest found
  for round in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    found=
    for sig in STOP KILL; do
      for p in /proc/[0-9]*; do
        p=${p#/proc/}
        case $p in 1|$WRAPPER_PID|$BASHPID) continue;; esac
        read -r line < /proc/$p/stat 2>/dev/null || continue
        rest=${line##*) }
        set -- $rest
        [ "$1" = Z ] || [ "$2" = "$WRAPPER_PID" ] && continue
        kill -$sig "$p" 2>/dev/null && found=1
      done
    done
    [ -z "$found" ] && return 0
  done
}
"""


def wrapper(timeout_s: int) -> list[str]:
    """The interpreter each command runs under inside the container (mini-swe-agent appends
    the command: it is $1). `timeout` ends it when mini-swe-agent stops waiting (killing the
    `docker exec` client leaves the command running in the container), REAP then ends
    whatever it left, and its output is cut at OUTPUT_CAP bytes there (a `yes` would
    otherwise fill this process's memory for the whole command timeout; head's exit ends
    the writer with SIGPIPE). The command's own exit status is kept."""
    script = (f"WRAPPER_PID=$$\n{REAP}"
              f'{{ timeout -s KILL {int(timeout_s)} bash -lc "$1"; rc=$?; reap; exit $rc; }} 2>&1 '
              f'| head -c {OUTPUT_CAP}\nexit "${{PIPESTATUS[0]}}"\n')
    return ["bash", "-c", script, "bash"]


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent (benchdock's worker thread) dies,
    SIGKILL included, so a killed worker leaves no agent behind."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: the agent ends when the proxy's socket goes
        pass


def take_stdout() -> None:
    global PROTOCOL
    fd = os.dup(1)
    os.set_inheritable(fd, False)
    PROTOCOL = os.fdopen(fd, "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr


def emit(result: dict[str, Any]) -> None:
    PROTOCOL.write(json.dumps({"result": result}) + "\n")
    PROTOCOL.flush()


def trajectory(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each step: what the model said (its command) and what came back, truncated."""
    steps: list[dict[str, Any]] = []
    for m in messages:
        role, extra = m.get("role"), m.get("extra") or {}
        content = m.get("content")
        text = content if isinstance(content, str) else json.dumps(content)[:4000]
        if role == "assistant":
            cmds = [a.get("command", "") for a in extra.get("actions", [])]
            usage = (extra.get("response") or {}).get("usage") or {}
            steps.append({"role": "assistant", "commands": cmds, "text": (text or "")[-1500:],
                          "prompt_tokens": usage.get("prompt_tokens"),
                          "completion_tokens": usage.get("completion_tokens")})
        elif role == "user" and extra.get("interrupt_type") == "FormatError":
            # the model's answer had no single command: mini-swe-agent keeps it only here
            resp = extra.get("response") if isinstance(extra.get("response"), dict) else {}
            usage = (resp or {}).get("usage") or {}
            steps.append({"role": "format_error", "commands": [],
                          "text": str(extra.get("model_response") or "")[-1500:],
                          "prompt_tokens": usage.get("prompt_tokens"),
                          "completion_tokens": usage.get("completion_tokens"),
                          "feedback": (text or "")[:300]})
        elif role == "user" and steps:
            raw = extra.get("raw_output", text or "")
            steps.append({"role": "observation", "returncode": extra.get("returncode"),
                          "output": raw[:TRAJECTORY_OUTPUT_KEPT], "chars": len(raw),
                          "truncated": len(raw) > TRAJECTORY_OUTPUT_KEPT})
        elif role == "exit":
            steps.append({"role": "exit", "exit_status": extra.get("exit_status"),
                          "output": (text or "")[:TRAJECTORY_OUTPUT_KEPT]})
    return steps


def main() -> None:
    cfg = json.loads(sys.stdin.readline())
    port = start_relay(cfg["proxy_socket"])
    api_base = f"http://127.0.0.1:{port}/t/{cfg['tag']}/v1"

    from minisweagent.agents.default import DefaultAgent
    from minisweagent.config import get_config_from_spec
    from minisweagent.environments.docker import DockerEnvironment

    config = get_config_from_spec(cfg["config"])
    agent_cfg = dict(config["agent"])
    agent_cfg.update(step_limit=int(cfg["step_limit"]), cost_limit=0.0,
                     wall_time_limit_seconds=int(cfg["wall_time_limit_s"]))
    env_cfg = {k: v for k, v in config.get("environment", {}).items() if k != "environment_class"}
    env_vars = {k: v for k, v in env_cfg.get("env", {}).items() if k != "BASH_ENV"}
    timeout_s = int(cfg["command_timeout_s"])
    env_cfg.update(env=env_vars, image=cfg["image"], timeout=timeout_s,
                   interpreter=wrapper(timeout_s))

    class BenchdockContainer(DockerEnvironment):  # type: ignore[misc]
        """mini-swe-agent's DockerEnvironment on the container benchdock started."""

        def _start_container(self) -> None:
            self.container_id = cfg["container_id"]

        def cleanup(self) -> None:  # benchdock removes the container
            pass

    env = BenchdockContainer(**env_cfg)
    model_cfg = dict(config.get("model", {}))
    kwargs = dict(model_cfg.get("model_kwargs") or {})
    kwargs.update(api_base=api_base, api_key="unused-benchdock-proxy", **cfg["extra_params"])
    model_cfg.update(model_name=f"openai/{cfg['model']}", cost_tracking="ignore_errors",
                     model_kwargs=kwargs)
    model_cfg.pop("model_class", None)
    if cfg["protocol"] == "text":
        from minisweagent.models.litellm_textbased_model import LitellmTextbasedModel

        model: Any = LitellmTextbasedModel(**model_cfg)
    else:
        from minisweagent.models.litellm_model import LitellmModel

        model = LitellmModel(**model_cfg)
    agent = DefaultAgent(model, env, **agent_cfg)
    t0 = time.time()
    try:
        info = agent.run(cfg["task"])
        crashed = None
    except Exception as exc:  # the agent's own exit message says which; keep the trajectory
        info = agent.messages[-1].get("extra", {}) if agent.messages else {}
        crashed = f"{type(exc).__name__}: {exc}"
    emit({"status": "done", "exit_status": info.get("exit_status") or "Error",
          "submission": info.get("submission") or "", "crashed": crashed,
          "steps": agent.n_calls, "wall_s": round(time.time() - t0, 3),
          "trajectory": trajectory(agent.messages)})


if __name__ == "__main__":
    die_with_parent()
    take_stdout()
    try:
        main()
    except BaseException as exc:  # every failure must reach benchdock as a result
        emit({"status": "crashed", "reason": f"{type(exc).__name__}: {exc}",
              "traceback": traceback.format_exc()[-4000:]})
