"""A BFCL run's live harness: the bridge in BFCL's environment, in a Docker container (no
network, read-only root, non-root, limits; BFCL's interpreter and venv mounted read-only,
the proxy's socket directory the only writable mount) or, for the local sandbox, as a
subprocess. Multi-turn categories `eval()` the model's calls against BFCL's simulators:
that happens there, never in benchdock's process.
"""

from __future__ import annotations

import json
from collections import defaultdict
from importlib import resources
from typing import Any

from benchdock.harnesses.base import Task
from benchdock.harnesses.bfcl.categories import category_of
from benchdock.harnesses.bfcl.environment import BfclEnv
from benchdock.harnesses.delegated import HarnessSession, RpcChannel, SampleOutcome, SessionContext
from benchdock.harnesses.envs import container_mounts
from benchdock.harnesses.metrics import wilson
from benchdock.harnesses.sandbox.base import Channel, SandboxError
from benchdock.harnesses.sandbox.factory import docker_available
from benchdock.store.models import Sample

BRIDGE_SOURCE = resources.files("benchdock.harnesses.bfcl").joinpath("bridge.py").read_text()
START_TIMEOUT_S = 180.0  # importing bfcl_eval cold takes ~10 s; a slow disk, much more
IN_CONTAINER = {"python": "/opt/bdpy", "env": "/opt/bdenv", "proxy": "/opt/bdproxy"}


def _open_channel(env: BfclEnv, ctx: SessionContext) -> tuple[Channel, str]:
    mode = ctx.settings.sandbox
    if mode == "auto":
        mode = "docker" if docker_available(ctx.settings.sandbox_image)[0] else "local"
    sock_dir = ctx.proxy_socket.parent
    # the handler builds a default OpenAI client before ours replaces it: give it a key
    common = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONNOUSERSITE": "1",
              "OPENAI_API_KEY": "unused-benchdock-proxy",
              "PYTHONUNBUFFERED": "1"}
    if mode == "docker":
        from benchdock.harnesses.sandbox.docker_backend import open_container_channel

        volumes, site = container_mounts(env, IN_CONTAINER["python"], IN_CONTAINER["env"])
        volumes[str(sock_dir)] = {"bind": IN_CONTAINER["proxy"], "mode": "rw"}
        environment = {
            **common, "LD_LIBRARY_PATH": IN_CONTAINER["python"] + "/lib",
            "BENCHDOCK_BFCL_SITE": site, "HOME": "/tmp", "BFCL_PROJECT_ROOT": "/tmp/bfcl",
            "BENCHDOCK_PROXY_SOCKET": f"{IN_CONTAINER['proxy']}/{ctx.proxy_socket.name}",
        }
        # -S: BFCL's venv only, never whatever the host interpreter has in its own site-packages
        argv = [IN_CONTAINER["python"] + "/bin/python3", "-S", "-u", "-c", BRIDGE_SOURCE]
        return open_container_channel(ctx.settings.sandbox_image, argv, volumes, environment), mode
    from benchdock.harnesses.sandbox.local import open_process_channel

    environment = {**common, "BENCHDOCK_PROXY_SOCKET": str(ctx.proxy_socket)}
    return open_process_channel([str(env.python), "-u", "-c", BRIDGE_SOURCE], environment), mode


class BfclSession(HarnessSession):
    def __init__(self, env: BfclEnv, ctx: SessionContext) -> None:
        self.mode = str(ctx.run.params.get("bfcl_mode", "prompting"))
        self.timeout_s = ctx.settings.request_timeout_s * 4
        channel, self.sandbox_kind = _open_channel(env, ctx)
        init = {"model": ctx.run.model, "mode": self.mode, "threads": ctx.threads,
                "temperature": float(ctx.run.params.get("temperature", 0.0))}
        try:
            self.rpc = RpcChannel(channel, init, START_TIMEOUT_S)
        except SandboxError as exc:
            raise SandboxError(
                f"BFCL's harness did not start in the {self.sandbox_kind} sandbox: {exc}") from exc

    async def solve(self, task: Task, tag: str) -> SampleOutcome:
        category = category_of(task.id)
        try:
            reply = await self.rpc.acall("solve", self.timeout_s, category=category,
                                         entry_id=task.id, tag=tag)
        except TimeoutError:
            return SampleOutcome(
                completion="", verdict="timeout", extra={"category": category, "mode": self.mode},
                detail=f"BFCL's harness gave no answer for {task.id} within {self.timeout_s:.0f}s")
        return outcome(category, self.mode, reply)

    async def summarise(self, samples: list[Sample]) -> dict[str, Any]:
        per: dict[str, list[bool]] = defaultdict(list)
        for s in samples:
            if s.verdict is not None:
                per[category_of(s.task_id)].append(s.verdict == "pass")
        per_category: dict[str, Any] = {}
        for cat, oks in sorted(per.items()):
            lo, hi = wilson(sum(oks), len(oks))
            per_category[cat] = {"accuracy": sum(oks) / len(oks), "ci95": [lo, hi],
                                 "n": len(oks), "correct": sum(oks)}
        out: dict[str, Any] = {"mode": self.mode, "per_category": per_category}
        if per_category:
            table = {c: {"accuracy": v["accuracy"], "total_count": v["n"]}
                     for c, v in per_category.items()}
            reply = await self.rpc.acall("overall", 120.0, per_category=table)
            out["overall"] = bfcl_overall(reply.get("tables", {}))
        return {"bfcl": out}

    def close(self) -> None:
        self.rpc.close()


def outcome(category: str, mode: str, reply: dict[str, Any]) -> SampleOutcome:
    """BFCL's answer for one entry as a benchdock sample verdict with its evidence."""
    extra: dict[str, Any] = {"category": category, "mode": mode}
    if "error" in reply:  # the bridge could not find the entry
        return SampleOutcome(completion="", verdict="error", detail=reply["error"], extra=extra)
    if "inference_error" in reply:
        extra["traceback"] = reply.get("traceback")
        return SampleOutcome(
            completion=f"Error during inference: {reply['inference_error']}", verdict="error",
            detail=f"inference failed (BFCL counts this as wrong): {reply['inference_error']}",
            extra=extra)
    result = reply.get("result")
    completion = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
    judged = reply.get("judged", {})
    extra.update(decoded=reply.get("decoded"), steps=reply.get("steps"))
    code = json.dumps(reply.get("decoded"), ensure_ascii=False, default=str)
    if judged.get("valid"):
        return SampleOutcome(completion=completion, code=code, verdict="pass", extra=extra)
    extra.update(error_type=judged.get("error_type"), possible_answer=judged.get("possible_answer"))
    detail = f"{judged.get('error_type')}: {judged.get('error')}"
    return SampleOutcome(completion=completion, code=code, verdict="fail", detail=detail,
                         extra=extra)


def _pct(value: str | None) -> float | None:
    if value is None or value.strip() in ("", "N/A"):
        return None
    try:
        return float(value.strip().rstrip("%")) / (100 if value.strip().endswith("%") else 1)
    except ValueError:
        return None


# (table, column) in BFCL's CSVs: the section figures that enter its overall number
OVERALL_COLUMNS = {
    "overall": ("overall", "Overall Acc"),
    "non_live": ("non_live", "Non-Live Overall Acc"),
    "live": ("live", "Live Overall Acc"),
    "multi_turn": ("multi_turn", "Multi Turn Overall Acc"),
    "irrelevance": ("overall", "Irrelevance Detection"),
    "relevance": ("overall", "Relevance Detection"),
}


def bfcl_overall(tables: dict[str, dict[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {k: _pct(tables.get(t, {}).get(col))
                           for k, (t, col) in OVERALL_COLUMNS.items()}
    out["note"] = ("BFCL's own aggregation (generate_leaderboard_csv): weights 10/10/10/30/40 "
                   "over non-live, live, irrelevance, multi-turn and agentic; a category not "
                   "run counts as 0 there, as on BFCL's leaderboard (null = BFCL shows N/A), "
                   "and the agentic 40% is never run offline")
    return out
