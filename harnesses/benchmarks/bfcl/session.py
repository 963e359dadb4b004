"""A BFCL run's live harness: the bridge in BFCL's environment, in a Docker container (no
network, read-only root, non-root, limits; BFCL's interpreter and venv mounted read-only,
the proxy's socket directory the only writable mount) or, for the local sandbox, as a
subprocess. Multi-turn categories `eval()` the model's calls against BFCL's simulators:
that happens there, never in benchdock's process, only for calls `guard` lets through, and
in a child process per entry (`isolate`). A bridge that dies or hangs is restarted
(`SupervisedRpc`): the entry that caused it gets an error or timeout verdict and the run
goes on.
"""

from __future__ import annotations

import json
from collections import defaultdict
from importlib import resources
from typing import Any

from benchdock.harnesses.benchmarks.bfcl.benchmark import HOST_MOUNTS
from benchdock.harnesses.benchmarks.bfcl.categories import category_of
from benchdock.harnesses.benchmarks.bfcl.environment import BfclEnv
from benchdock.harnesses.contract.benchmark import Task
from benchdock.harnesses.contract.delegated import HarnessSession, SampleOutcome, SessionContext
from benchdock.harnesses.contract.metrics import wilson
from benchdock.harnesses.contract.registry import remote_capable
from benchdock.harnesses.envs.managed import container_mounts
from benchdock.harnesses.sandbox.base import Channel, SandboxError
from benchdock.harnesses.sandbox.factory import docker_available
from benchdock.harnesses.sandbox.remote import refuse_remote_engine
from benchdock.harnesses.sandbox.rpc import HarnessLost, RpcChannel, SupervisedRpc
from benchdock.store.tables import Sample

HARNESS = "bfcl"
START_TIMEOUT_S = 180.0  # importing bfcl_eval cold takes ~10 s; a slow disk, much more
IN_CONTAINER = {"python": "/opt/bdpy", "env": "/opt/bdenv", "proxy": "/opt/bdproxy"}
# what one entry's process may use, asking the model or judging (see isolate.py); BFCL's own
# work on the longest multi-turn entry takes a few CPU seconds
ENTRY_CPU_S = 120.0
JUDGE_WALL_S = 180.0
ENTRY_MEM_BYTES = 2 << 30
ENTRY_MAX_OUTPUT = 16 << 20
HANG_GRACE_S = 60.0  # beyond the bridge's own limits: then the bridge itself is hung

BRIDGE_MODULES = ("guard", "isolate", "bridge")  # in import order
_LOADER = """
import sys, types
def _load(sources):
    for name in ("benchdock", "benchdock.harnesses", "benchdock.harnesses.benchmarks",
                 "benchdock.harnesses.benchmarks.bfcl", "benchdock.harnesses.benchmarks.bfcl.drivers"):
        pkg = types.ModuleType(name)
        pkg.__path__ = []
        sys.modules[name] = pkg
    for name, src in sources.items():
        mod = types.ModuleType(name)
        mod.__file__ = name.rpartition(".")[2] + ".py"
        sys.modules[name] = mod
        setattr(sys.modules[name.rpartition(".")[0]], name.rpartition(".")[2], mod)
        exec(compile(src, mod.__file__, "exec"), mod.__dict__)
    return mod
_load(SOURCES).main()
"""


def bridge_program() -> str:
    """The `python -c` text that runs drivers/bridge.py with its siblings, as the package
    `benchdock.harnesses.benchmarks.bfcl.drivers` there too: benchdock itself is not installed
    in BFCL's venv."""
    pkg = resources.files("benchdock.harnesses.benchmarks.bfcl.drivers")
    sources = {f"benchdock.harnesses.benchmarks.bfcl.drivers.{m}": pkg.joinpath(f"{m}.py").read_text()
               for m in BRIDGE_MODULES}
    return _LOADER.replace("SOURCES", repr(sources))


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
        argv = [IN_CONTAINER["python"] + "/bin/python3", "-S", "-u", "-c", bridge_program()]
        return open_container_channel(ctx.settings.sandbox_image, argv, volumes, environment), mode
    from benchdock.harnesses.sandbox.local import local_isolation, open_process_channel

    environment = {**common, "BENCHDOCK_PROXY_SOCKET": str(ctx.proxy_socket)}
    if local_isolation()[0]:  # bubblewrap's /tmp is the sandbox's own
        environment.update(HOME="/tmp", BFCL_PROJECT_ROOT="/tmp/bfcl")
    # the socket's path names the run in the process list (`ps`), children included
    argv = [str(env.python), "-u", "-c", bridge_program(), str(ctx.proxy_socket)]
    # under bubblewrap: BFCL's venv and its interpreter read-only, the socket's directory
    # the only writable host path
    return open_process_channel(argv, environment, writable=[str(sock_dir)],
                                readable=[str(env.root), str(env.base_prefix)]), mode


class BfclSession(HarnessSession):
    def __init__(self, env: BfclEnv, ctx: SessionContext) -> None:
        self.mode = str((ctx.run.params.get("options") or {}).get("mode") or "prompting")
        self.timeout_s = ctx.settings.request_timeout_s * 4  # one entry's whole conversation
        self.init = {"model": ctx.run.model, "mode": self.mode, "threads": ctx.threads,
                     "temperature": float(ctx.run.params.get("temperature", 0.0)),
                     "limits": {"cpu_s": ENTRY_CPU_S, "judge_s": JUDGE_WALL_S,
                                "mem_bytes": ENTRY_MEM_BYTES, "max_output": ENTRY_MAX_OUTPUT}}
        self.env, self.ctx = env, ctx
        refuse_remote_engine(HARNESS, HOST_MOUNTS, ctx.settings.sandbox, remote_capable())
        self.rpc = SupervisedRpc(self._start)

    def _start(self) -> RpcChannel:
        channel, self.sandbox_kind = _open_channel(self.env, self.ctx)
        if self.sandbox_kind == "docker":
            self.isolation = (f"docker ({self.ctx.settings.sandbox_image}): no network, "
                              "read-only root, user 65534, no capabilities, 4g memory, 2 CPUs, "
                              "512 processes; each entry in a forked process with its own limits")
        else:
            from benchdock.harnesses.sandbox.local import local_isolation

            self.isolation = local_isolation()[1] + "; each entry in a forked process"
        try:
            return RpcChannel(channel, self.init, START_TIMEOUT_S)
        except SandboxError as exc:
            raise SandboxError(
                f"BFCL's harness did not start in the {self.sandbox_kind} sandbox: {exc}") from exc

    async def solve(self, task: Task, tag: str) -> SampleOutcome:
        category = category_of(task.id)
        extra: dict[str, Any] = {"category": category, "mode": self.mode}
        try:
            reply = await self.rpc.call(
                "solve", self.timeout_s + JUDGE_WALL_S + HANG_GRACE_S, category=category,
                entry_id=task.id, tag=tag, wall_s=self.timeout_s)
        except HarnessLost as exc:
            extra["harness_restarts"] = len(self.rpc.restarts)
            return SampleOutcome(
                completion="", verdict="timeout" if exc.hung else "error", extra=extra,
                detail=(f"BFCL's harness failed twice on {task.id}, the second time with no "
                        f"other entry in flight ({exc}); it was restarted and the run went on"))
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
        if self.rpc.restarts:
            out["harness_restarts"] = self.rpc.restarts
        if per_category:
            table = {c: {"accuracy": v["accuracy"], "total_count": v["n"]}
                     for c, v in per_category.items()}
            try:
                reply = await self.rpc.call("overall", 120.0, per_category=table)
            except HarnessLost as exc:
                raise SandboxError(f"BFCL's harness failed computing its overall figure: "
                                   f"{exc}") from exc
            out["overall"] = bfcl_overall(reply.get("tables", {}))
        return out

    def retries(self) -> list[str]:
        return list(self.rpc.restarts)

    def close(self) -> None:
        self.rpc.close()


def outcome(category: str, mode: str, reply: dict[str, Any]) -> SampleOutcome:
    """BFCL's answer for one entry as a benchdock sample verdict with its evidence."""
    extra: dict[str, Any] = {"category": category, "mode": mode}
    if "error" in reply:  # the bridge could not find the entry
        return SampleOutcome(completion="", verdict="error", detail=reply["error"], extra=extra)
    if "entry_error" in reply or "entry_timeout" in reply:  # its process died, hung, flooded
        result = reply.get("result")
        extra["traceback"] = reply.get("traceback")
        timed_out = "entry_timeout" in reply
        return SampleOutcome(
            completion="" if result is None else _text(result),
            verdict="timeout" if timed_out else "error", extra=extra,
            detail=str(reply["entry_timeout" if timed_out else "entry_error"]))
    if "inference_error" in reply:
        extra["traceback"] = reply.get("traceback")
        return SampleOutcome(
            completion=f"Error during inference: {reply['inference_error']}", verdict="error",
            detail=f"inference failed (BFCL counts this as wrong): {reply['inference_error']}",
            extra=extra)
    completion = _text(reply.get("result"))
    judged = reply.get("judged", {})
    extra.update(decoded=reply.get("decoded"), steps=reply.get("steps"))
    code = json.dumps(reply.get("decoded"), ensure_ascii=False, default=str)
    # each decoding of the answer (BFCL's loop, its checker, our record) meets the same call
    refused = list({(r.get("call"), r.get("reason")): r
                    for r in reply.get("refused") or []}.values())
    note = None
    if refused:
        extra["refused_calls"] = refused[:20]
        if any(r.get("by") == "ground truth" for r in refused):  # never seen: a bug of ours
            return SampleOutcome(
                completion=completion, code=code, verdict="error", extra=extra,
                detail="benchdock refused one of BFCL's own ground-truth calls, so this "
                       f"verdict cannot be trusted: {refused[0].get('reason')}")
        # BFCL's verdict stands: a refused call failed, as any failing call does
        note = (f"benchdock refused to evaluate {len(refused)} of the model's calls, e.g. "
                f"{str(refused[0].get('call', ''))[:120]!r}: {refused[0].get('reason')}")
    if judged.get("valid") is True:
        return SampleOutcome(completion=completion, code=code, verdict="pass", extra=extra,
                             detail=note)
    extra.update(error_type=judged.get("error_type"), possible_answer=judged.get("possible_answer"))
    detail = f"{judged.get('error_type')}: {judged.get('error')}" + (f" ({note})" if note else "")
    return SampleOutcome(completion=completion, code=code, verdict="fail", detail=detail,
                         extra=extra)


def _text(result: Any) -> str:
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)


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
