"""BFCL (the Berkeley Function Calling Leaderboard) as benchdock benchmarks: `bfcl` for every
offline category, `bfcl-<category>` for one.

The data, the prompts, the parsing, the multi-turn loop and the checkers are bfcl-eval's
own (see `drivers/bridge.py`); benchdock decides how to ask (native tool calls or prompting), keeps
the run, and reports accuracy per category with intervals and BFCL's own overall figure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from benchdock.harnesses.benchmarks.bfcl.categories import OFFLINE, Category, category_of
from benchdock.harnesses.benchmarks.bfcl.environment import (
    BFCL_VERSION,
    EnvironmentMissing,
    load_env,
)
from benchdock.harnesses.config import EndpointConfig
from benchdock.harnesses.contract.benchmark import (
    DatasetUnavailable,
    ImageSpec,
    Requirement,
    SetupStep,
    Table,
    Task,
    found_by,
    sandbox_image,
)
from benchdock.harnesses.contract.delegated import HarnessBenchmark, HarnessSession, SessionContext
from benchdock.harnesses.contract.dimensions import DimensionMetric
from benchdock.harnesses.contract.registry import host_mount_refusal
from benchdock.harnesses.errors import BenchdockError

MODES = ("auto", "native", "prompting")


# what it bind-mounts from this machine (a remote Docker engine cannot run it)
HOST_MOUNTS = ("BFCL's managed venv, the host's Python and the "
               "recording proxy's unix socket")

class BfclOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["auto", "native", "prompting"] = Field(default="auto", description=(
        "How to ask for function calls: native (the OpenAI tools field; llama-server needs "
        "--jinja), prompting (calls written as text, parsed as BFCL does), or auto (native "
        "where the endpoint answers a probe with a tool call)"))
PROBE_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}


MULTI_TURN = frozenset(c.name for c in OFFLINE if c.kind == "multi_turn")
# the map from BFCL's figures to the dimensions: any question is tool use; the multi-turn
# conversations (a task over several dependent calls against a stateful simulator) are also
# planning, and their long-context variant (a large state to keep in view) long context
MAP = (
    DimensionMetric("tool_use", "accuracy", "share of questions BFCL's checker accepts "
                    "(pooled over the categories run, not BFCL's weighted overall)"),
    DimensionMetric("planning", "multi-turn accuracy", "share of multi-turn conversations "
                    "whose final state and answers BFCL's checker accepts", parts=MULTI_TURN),
    DimensionMetric("long_context", "long-context multi-turn accuracy", "the same on "
                    "multi_turn_long_context", parts=frozenset({"multi_turn_long_context"})),
)


class Bfcl(HarnessBenchmark):
    host_mounts: ClassVar[str | None] = HOST_MOUNTS
    metrics = ("pass@1", "accuracy per category", "BFCL overall")
    Options: ClassVar[type[BaseModel]] = BfclOptions
    main_option: ClassVar[str | None] = "mode"
    details_key: ClassVar[str | None] = "bfcl"
    tokens_per_request = 100
    exec_s_per_task = 0.2

    def __init__(self, categories: list[Category], bench_id: str, title: str) -> None:
        self.categories = categories
        self.id = bench_id
        self.title = title
        self.nominal_tasks = sum(c.count for c in categories)
        names_run = {c.name for c in categories}
        self._map = tuple(m for m in MAP if any(m.covers(n) for n in names_run))
        self.dimensions = tuple(m.dimension for m in self._map)
        # a multi-turn conversation is several requests
        multi_share = sum(c.count for c in categories if c.kind == "multi_turn") / max(
            1, self.nominal_tasks)
        self.requests_per_task = 1.0 + 7.0 * multi_share
        names = ", ".join(c.name for c in categories)
        multi = any(c.kind == "multi_turn" for c in categories)
        self.description = (
            f"BFCL v4 ({names}), scored by bfcl-eval's own checkers"
            + (": multi-turn conversations run BFCL's simulators in the sandbox" if multi else "")
            + ". Native tool calls where the endpoint supports them, else BFCL's prompting.")
        self.cost = (f"{self.nominal_tasks} questions; multi-turn ones take several requests each"
                     if multi else f"{self.nominal_tasks} requests, ~100 tokens out each")
        blocked = [c for c in categories if not c.offline]
        if blocked:
            self.description += " NOT RUNNABLE HERE: " + "; ".join(
                f"{c.name} {c.why_not}" for c in blocked)

    @property
    def version(self) -> str:
        return f"bfcl-eval {BFCL_VERSION}"

    @property
    def family(self) -> str:
        return "bfcl"

    def part(self, task_id: str) -> str:
        return category_of(task_id)

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.categories)

    def dimension_metrics(self) -> tuple[DimensionMetric, ...]:
        return self._map

    def requirements(self) -> list[Requirement]:
        needs = [Requirement(kind="venv", name=f"bfcl-eval {BFCL_VERSION}",
                             how="benchdock setup bfcl (about 5 minutes, 2 GB)"),
                 Requirement(kind="docker", name=self.settings.sandbox_image, optional=True,
                             how="benchdock build-image (else the local sandbox is used)")]
        if any(not c.offline for c in self.categories):
            needs.insert(0, Requirement(kind="internet", name="SerpAPI, an embedding download",
                                        how="not supported offline"))
        return needs

    def images(self) -> list[ImageSpec]:
        return [sandbox_image(self.settings)]

    def setups(self) -> list[SetupStep]:
        from benchdock.harnesses.benchmarks.bfcl.environment import ensure_env

        def run(say: Callable[[str], None]) -> str:
            env = ensure_env(self.settings.envs_dir, say=say,
                             torch_index=self.settings.var("BENCHDOCK_TORCH_INDEX"))
            return f"{env.root} (Python {env.python_version})"

        return [SetupStep(name="bfcl", what=f"bfcl-eval {BFCL_VERSION}'s own venv", run=run,
                          installed=found_by(lambda: load_env(self.settings.envs_dir)),
                          download_mb=500, disk_mb=1900, minutes=5)]

    def readiness(self) -> str | None:
        blocked = [c.name for c in self.categories if not c.offline]
        if blocked:
            return f"needs the internet ({', '.join(blocked)})"
        try:
            load_env(self.settings.envs_dir)
        except EnvironmentMissing as exc:
            return str(exc)
        return host_mount_refusal(self)

    def _files(self) -> list[Path]:
        blocked = [c for c in self.categories if not c.offline]
        if blocked:
            raise DatasetUnavailable("; ".join(f"{c.name} {c.why_not}" for c in blocked) +
                                     f". Offline categories: {', '.join(c.name for c in OFFLINE)}")
        try:
            env = load_env(self.settings.envs_dir)
        except EnvironmentMissing as exc:
            raise DatasetUnavailable(str(exc)) from None
        return [env.data_dir / f"BFCL_v4_{c.name}.json" for c in self.categories]

    def tasks(self) -> list[Task]:
        out: list[Task] = []
        for path in self._files():
            with path.open() as fh:
                for line in fh:
                    if line.strip():
                        e = json.loads(line)
                        first = e["question"][0] if e.get("question") else []
                        text = " | ".join(m.get("content", "") for m in first
                                          if isinstance(m, dict))
                        out.append(Task(id=e["id"], prompt=text, entry_point=""))
        return out

    def first(self, ids: list[str], limit: int) -> list[str]:
        """The first N of each category, so a limited `bfcl` run still covers them all."""
        seen: dict[str, int] = {}
        out = []
        for i in ids:
            cat = category_of(i)
            seen[cat] = seen.get(cat, 0) + 1
            if seen[cat] <= limit:
                out.append(i)
        return out

    def dataset_hash(self) -> str:
        h = hashlib.sha256()
        for path in self._files():
            h.update(path.read_bytes())
        return h.hexdigest()[:16]

    def open_session(self, ctx: SessionContext) -> HarnessSession:
        from benchdock.harnesses.benchmarks.bfcl.session import BfclSession

        return BfclSession(load_env(self.settings.envs_dir), ctx)

    async def configure(self, endpoint: EndpointConfig, model: str,
                        options: BaseModel) -> tuple[dict[str, Any], str | None]:
        """`auto` probes the endpoint with one tool call and records the choice and why."""
        assert isinstance(options, BfclOptions)
        mode: str = options.mode
        timeout = float(self.settings.var("BENCHDOCK_PROBE_TIMEOUT_S", "120") or 120)
        supported, why = await probe_native(endpoint, model, timeout)
        if mode == "native" and supported is False and why.startswith("the endpoint refused"):
            raise BenchdockError(
                f"mode='native' asked, but {why}. Use mode='prompting' (BFCL's text format), "
                "or for llama-server start it with --jinja")
        if mode == "auto":
            mode = "native" if supported else "prompting"
            why = ("auto: " + why)
        else:
            why = f"{mode} as asked (probe: {why})"
        return {"mode": mode}, why

    def tables(self, details: dict[str, Any], options: dict[str, Any]) -> list[Table]:
        """BFCL's per-category table and its own overall figures."""
        rows = [[cat, f"{v['accuracy']:.3f}", f"[{v['ci95'][0]:.3f}, {v['ci95'][1]:.3f}]",
                 f"{v['correct']}/{v['n']}"]
                for cat, v in (details.get("per_category") or {}).items()]
        overall = details.get("overall") or {}
        figures = [f"{k} {v:.3f}" for k, v in overall.items() if isinstance(v, float)]
        note = ("BFCL aggregate: " + ", ".join(figures)) if figures else None
        if details.get("harness_restarts"):
            restarts = f"BFCL's harness was restarted {len(details['harness_restarts'])} time(s)"
            note = f"{note}; {restarts}" if note else restarts
        return [Table(title=f"BFCL, {details.get('mode') or options.get('mode')} mode",
                      headers=["category", "accuracy", "95% CI", "correct"], rows=rows,
                      note=note)]


async def probe_native(ep: EndpointConfig, model: str, timeout: float = 120.0) -> tuple[bool, str]:
    """Does the endpoint do native function calling? One small request with a tool."""
    body = {"model": model, "max_tokens": 64, "temperature": 0, "tools": [PROBE_TOOL],
            "messages": [{"role": "user", "content": "What is the weather in Paris? "
                                                     "Use the get_weather tool."}]}
    headers = {"Authorization": f"Bearer {ep.api_key}"} if ep.api_key else {}
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            r = await client.post(f"{ep.url}/chat/completions", json=body, headers=headers)
    except httpx.HTTPError as exc:
        return False, f"the probe request failed ({type(exc).__name__}: {exc})"
    if r.status_code != 200:
        return False, f"the endpoint refused the tools field (HTTP {r.status_code}: {r.text[:200]})"
    try:
        msg = r.json()["choices"][0]["message"]
    except (ValueError, KeyError, IndexError):
        return False, f"the probe answer was not a chat completion: {r.text[:200]}"
    if msg.get("tool_calls"):
        return True, "the endpoint answered a probe with a native tool call"
    return False, ("the endpoint accepted the tools field but answered the probe in text, so "
                   "its chat template may ignore tools (llama-server needs --jinja)")


def bfcl_benchmarks() -> dict[str, Any]:
    """`bfcl` plus one benchmark per category, as registry entries."""
    from benchdock.harnesses.benchmarks.bfcl.categories import CATEGORIES

    out: dict[str, Any] = {
        "bfcl": lambda: Bfcl(OFFLINE, "bfcl", "BFCL v4, every offline category"),
    }
    for c in CATEGORIES:
        out[c.benchmark_id] = (lambda c=c: Bfcl([c], c.benchmark_id, f"BFCL v4 {c.name}"))
    return out
