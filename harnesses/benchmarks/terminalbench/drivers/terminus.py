"""benchdock's Terminus-2 driver: one Harbor-format task, worked by Harbor 0.25's own
Terminus-2 agent (`harbor.agents.terminus_2.Terminus2`), in the harbor venv on the host.

This file is sent as source (`python -c`) and imports nothing from benchdock. It reads one
JSON line on stdin and writes one JSON line, `{"result": ...}`, on a descriptor of its own
(what Harbor and litellm print goes to stderr).

Harbor's agent is driven, not Harbor's trial: benchdock started the task's container
(resources, network and confinement from task.toml) and passes its id; the agent's tmux
session runs there through `docker exec` (the environment class below), and benchdock kills,
verifies and removes it afterwards. The model is reached only through benchdock's recording
proxy (a unix socket): a small relay gives litellm an http://127.0.0.1 URL for it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from benchdock.harnesses.envs.driver_relay import start_relay  # inlined by the session

PROTOCOL = sys.stdout
OUTPUT_KEPT = 4000  # characters of each terminal observation kept in the result
MESSAGE_KEPT = 3000  # characters of each model message kept


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent (benchdock's worker thread) dies."""
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


def make_environment(cfg: dict[str, Any], trial_dir: Path) -> Any:
    """Harbor's BaseEnvironment over the container benchdock started: every call is a
    `docker exec`/`docker cp` into it; start and stop belong to benchdock."""
    from harbor.environments.base import BaseEnvironment, ExecResult
    from harbor.models.task.config import EnvironmentConfig
    from harbor.models.trial.paths import TrialPaths

    container = cfg["container_id"]

    def run(argv: list[str], timeout: float | None, stdin: bytes | None = None) -> ExecResult:
        try:
            done = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode("utf-8", "replace")
            return ExecResult(stdout=out, stderr=f"timed out after {timeout}s", return_code=124)
        return ExecResult(stdout=done.stdout.decode("utf-8", "replace"),
                          stderr=done.stderr.decode("utf-8", "replace"),
                          return_code=done.returncode)

    class BenchdockContainer(BaseEnvironment):  # type: ignore[misc]
        @staticmethod
        def type() -> str:
            return "benchdock"

        def _validate_definition(self) -> None:
            pass

        async def start(self, force_build: bool) -> None:  # benchdock started it
            pass

        async def stop(self, delete: bool) -> None:  # benchdock removes it
            pass

        async def exec(self, command: str, cwd: str | None = None,
                       env: dict[str, str] | None = None, timeout_sec: int | None = None,
                       user: str | int | None = None) -> ExecResult:
            argv = ["docker", "exec", "-i"]
            if cwd:
                argv += ["-w", cwd]
            for key, value in (self._merge_env(env) or {}).items():
                argv += ["-e", f"{key}={value}"]
            who = self._resolve_user(user)
            if who is not None:
                argv += ["-u", str(who)]
            argv += [container, "bash", "-c", command]
            return await asyncio.to_thread(run, argv, timeout_sec)

        async def upload_file(self, source_path: Path | str, target_path: str) -> None:
            done = await asyncio.to_thread(
                run, ["docker", "cp", str(source_path), f"{container}:{target_path}"], 120)
            if done.return_code != 0:
                raise RuntimeError(f"docker cp into the task's container: {done.stderr}")

        async def upload_dir(self, source_dir: Path | str, target_dir: str) -> None:
            await self.exec(f"mkdir -p '{target_dir}'", user="root")
            done = await asyncio.to_thread(
                run, ["docker", "cp", f"{source_dir}/.", f"{container}:{target_dir}"], 300)
            if done.return_code != 0:
                raise RuntimeError(f"docker cp into the task's container: {done.stderr}")

        async def download_file(self, source_path: str, target_path: Path | str) -> None:
            Path(target_path).parent.mkdir(parents=True, exist_ok=True)
            done = await asyncio.to_thread(
                run, ["docker", "cp", f"{container}:{source_path}", str(target_path)], 120)
            if done.return_code != 0:
                raise RuntimeError(f"docker cp out of the task's container: {done.stderr}")

        async def download_dir(self, source_dir: str, target_dir: Path | str) -> None:
            Path(target_dir).mkdir(parents=True, exist_ok=True)
            done = await asyncio.to_thread(
                run, ["docker", "cp", f"{container}:{source_dir}/.", str(target_dir)], 300)
            if done.return_code != 0:
                raise RuntimeError(f"docker cp out of the task's container: {done.stderr}")

    return BenchdockContainer(
        environment_dir=trial_dir, environment_name=cfg["task"], session_id=cfg["tag"],
        trial_paths=TrialPaths(trial_dir), task_env_config=EnvironmentConfig())


def _text(value: Any, keep: int) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:keep]


def trajectory(logs: Path) -> list[dict[str, Any]]:
    """Each agent turn from Terminus-2's ATIF trajectory: what the model said, the
    keystrokes it sent, and what the terminal showed afterwards."""
    files = sorted(logs.glob("trajectory*.json"))
    steps: list[dict[str, Any]] = []
    for f in files:
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        for s in data.get("steps") or []:
            if s.get("source") != "agent":
                continue
            calls = s.get("tool_calls") or []
            keys = [str((c.get("arguments") or {}).get("keystrokes", "")) for c in calls
                    if c.get("function_name") != "mark_task_complete"]
            done = any(c.get("function_name") == "mark_task_complete" for c in calls)
            results = ((s.get("observation") or {}).get("results")) or []
            seen = "\n".join(_text(r.get("content"), OUTPUT_KEPT) for r in results)
            metrics = s.get("metrics") or {}
            steps.append({"message": _text(s.get("message"), MESSAGE_KEPT), "keystrokes": keys,
                          "task_complete": done, "terminal": seen[:OUTPUT_KEPT],
                          "prompt_tokens": metrics.get("prompt_tokens"),
                          "completion_tokens": metrics.get("completion_tokens")})
    return steps


async def work(cfg: dict[str, Any], logs: Path, trial: Path) -> dict[str, Any]:
    from harbor.agents.terminus_2 import Terminus2
    from harbor.models.agent.context import AgentContext

    port = start_relay(cfg["proxy_socket"])
    api_base = f"http://127.0.0.1:{port}/t/{cfg['tag']}/v1"
    env = make_environment(cfg, trial)
    llm_kwargs = {k: v for k, v in cfg["extra_params"].items() if k != "temperature"}
    agent = Terminus2(
        logs_dir=logs, model_name=f"openai/{cfg['model']}", api_base=api_base,
        max_turns=int(cfg["max_turns"]), parser_name=cfg["parser"],
        temperature=cfg["extra_params"].get("temperature"), record_terminal_session=False,
        enable_summarize=bool(cfg["summarize"]), suppress_max_turns_warning=True,
        llm_kwargs={"api_key": "unused-benchdock-proxy", **llm_kwargs},
        model_info=cfg.get("model_info"))
    context = AgentContext()
    t0 = time.monotonic()
    status, reason = "completed", None
    try:
        await asyncio.wait_for(agent.setup(env), timeout=float(cfg["setup_timeout_s"]))
    except Exception as exc:  # tmux missing, container gone: the agent never started
        return {"status": "setup_failed", "reason": f"{type(exc).__name__}: {exc}",
                "wall_s": round(time.monotonic() - t0, 3), "steps": []}
    t1 = time.monotonic()
    try:
        await asyncio.wait_for(agent.run(cfg["instruction"], env, context),
                               timeout=float(cfg["agent_timeout_s"]))
    except TimeoutError:
        status, reason = "timeout", (f"the agent ran past the task's agent timeout "
                                     f"({cfg['agent_timeout_s']:.0f}s) and was stopped")
    except Exception as exc:  # Harbor's own failure (an endpoint error, a parser crash)
        status, reason = "agent_error", f"{type(exc).__name__}: {exc}"
    meta = context.metadata or {}
    return {"status": status, "reason": reason, "wall_s": round(time.monotonic() - t1, 3),
            "setup_s": round(t1 - t0, 3), "episodes": meta.get("n_episodes"),
            "input_tokens": context.n_input_tokens, "output_tokens": context.n_output_tokens,
            "steps": trajectory(logs)}


def main() -> None:
    cfg = json.loads(sys.stdin.readline())
    with tempfile.TemporaryDirectory(prefix="benchdock-terminus-") as tmp:
        trial = Path(tmp)
        logs = trial / "agent-logs"
        logs.mkdir()
        loop = asyncio.new_event_loop()
        result = loop.run_until_complete(work(cfg, logs, trial))
        emit(result)
    # a `docker exec` the timeout abandoned may still be waiting in a worker thread:
    # benchdock kills the container next, so nothing here waits for it
    os._exit(0)


if __name__ == "__main__":
    die_with_parent()
    take_stdout()
    try:
        main()
    except BaseException as exc:  # every failure must reach benchdock as a result
        emit({"status": "crashed", "reason": f"{type(exc).__name__}: {exc}",
              "traceback": traceback.format_exc()[-4000:], "steps": []})
