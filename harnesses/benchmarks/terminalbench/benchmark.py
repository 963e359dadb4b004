"""Harbor-format terminal tasks, worked by Harbor's own Terminus-2 agent and verified where
the agent cannot reach.

One declaration, three benchmarks (as swe-local and the online SWE sets share one agent):
- `terminal-bench-local`: benchdock's own offline set (tasks/, shipped in the wheel),
  Debian-only environments, verified without network.
- `terminal-bench`: Terminal-Bench 2.0's 89 tasks, from a folder the user has
  (BENCHDOCK_TERMINAL_BENCH_DIR) or from Harbor's registry (`benchdock setup
  terminal-bench`, where there is internet); its images are pulled when a run needs them.
- `harbor-tasks`: any folder of Harbor-format tasks (BENCHDOCK_HARBOR_TASKS_DIR): a user's
  own, Harbor's other datasets.

Two dimensions: debugging (a broken system brought back to a working one, judged by the
task's own tests) and planning (multi-step work to a state the tests check). The table also
says how often the agent resolved a task after the terminal had shown it an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from benchdock.harnesses.benchmarks.terminalbench import sources
from benchdock.harnesses.benchmarks.terminalbench.environment import (
    HARBOR_VERSION,
    ensure_env,
    load_env,
)
from benchdock.harnesses.benchmarks.terminalbench.taskfmt import HarborTask
from benchdock.harnesses.contract.benchmark import (
    DatasetUnavailable,
    Footprint,
    ImageSpec,
    Requirement,
    SetupStep,
    Table,
    Task,
)
from benchdock.harnesses.contract.delegated import HarnessBenchmark, HarnessSession, SessionContext
from benchdock.harnesses.contract.dimensions import DimensionMetric, verdict_pass
from benchdock.harnesses.envs.managed import EnvironmentMissing

AGENT_NAME = f"Terminus-2 (Harbor {HARBOR_VERSION})"


class TbenchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_turns: int | None = Field(default=None, ge=1, le=100000, description=(
        "the agent's turn limit per task (Terminus-2's max_turns; none by default, as in "
        "Harbor: the task's agent timeout ends it)"))
    parser: str = Field(default="json", pattern="^(json|xml)$", description=(
        "Terminus-2's answer format: json (its default) or xml"))
    timeout_multiplier: float = Field(default=1.0, gt=0, le=100, description=(
        "scales every task's agent and verifier timeouts (Harbor's timeout_multiplier)"))
    agent_timeout_multiplier: float = Field(default=1.0, gt=0, le=100, description=(
        "scales the agents' timeouts only, on top of timeout_multiplier (Harbor's "
        "agent_timeout_multiplier)"))
    summarize: bool = Field(default=True, description=(
        "Terminus-2's context summarization when the conversation nears the model's window"))
    verifier_tools: Literal["auto", "prepare", "none"] = Field(default="auto", description=(
        "tests that fetch their tools when they run (TB 2.0's): prepare = run each task's "
        "tests once with network on its untouched image and bake what they installed into "
        "an image, copied into the network-less verifier (needs the internet once per "
        "task); auto = prepare for terminal-bench, else use a prepared image if one exists; "
        "none = never"))


MAP = (
    DimensionMetric("debugging", "resolved", "share of tasks whose own tests pass after "
                    "the agent worked a broken system in a real terminal (a build, a "
                    "service, a repository, a database to repair)", outcome=verdict_pass),
    DimensionMetric("planning", "resolved", "the same: multi-step terminal work carried "
                    "to a state the task's tests check", outcome=verdict_pass),
)


class HarborTasks(HarnessBenchmark):
    """A set of Harbor-format tasks (see the module's docstring)."""

    metrics = ("resolved rate (= pass@1) with 95% CI", "failure kinds", "turns", "tokens",
               "resolved after an error on screen")
    Options: ClassVar[type[BaseModel]] = TbenchOptions
    main_option: ClassVar[str | None] = None
    details_key: ClassVar[str | None] = "tbench"
    run_defaults: ClassVar[dict[str, Any]] = {"max_tokens": 2048}
    requests_per_task = 30.0
    tokens_per_request = 400
    exec_s_per_task = 60.0

    def __init__(self, source: sources.Source) -> None:
        self.source = source
        self.id = source.bench_id
        self.title = source.title
        self.description = (f"{source.about} {AGENT_NAME} works each task in its own "
                            "container through benchdock's proxy; the task's tests run "
                            "afterwards in a fresh network-less container of the agent's "
                            "final filesystem, with reward files the agent wrote discarded.")
        self.cost = source.cost
        self.nominal_tasks = source.count
        self.dimensions = tuple(dict.fromkeys(m.dimension for m in MAP))

    # each set is a family of its own: their task ids are folder names, and a user's folder
    # may reuse a name of TB 2.0's or benchdock's for a different task

    @property
    def version(self) -> str:
        return f"{AGENT_NAME}; {self.source.version(self.settings)}"

    # --- data ------------------------------------------------------------------------------

    def harbor_tasks(self) -> list[HarborTask]:
        return self.source.load(self.settings)

    def tasks(self) -> list[Task]:
        return [Task(id=t.name, prompt=t.instruction, entry_point="")
                for t in self.harbor_tasks()]

    def dataset_hash(self) -> str:
        blob = "".join(f"{t.name}:{t.content_hash()}" for t in self.harbor_tasks())
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    # --- what it needs ---------------------------------------------------------------------

    def requirements(self) -> list[Requirement]:
        return [Requirement(kind="docker", name="a Docker engine", how="install Docker"),
                Requirement(kind="venv", name=f"Harbor {HARBOR_VERSION} (Python >= 3.12)",
                            how=f"benchdock setup {self.id} (~430 MB)"),
                *self.source.requirements(self.settings)]

    def readiness(self) -> str | None:
        try:
            load_env(self.settings.envs_dir)
        except EnvironmentMissing as exc:
            return str(exc)
        return self.source.readiness(self.settings)

    def images(self) -> list[ImageSpec]:
        return self.source.images(self.settings)

    def setups(self) -> list[SetupStep]:
        def run(say: Callable[[str], None]) -> str:
            env = ensure_env(self.settings.envs_dir,
                             self.settings.var("BENCHDOCK_HARBOR_PYTHON"), say=say)
            got = self.source.setup(self.settings, env.python, say)
            return f"{got}; agent venv {env.root}"

        return [SetupStep(name=self.id, what=f"Harbor {HARBOR_VERSION}'s venv and "
                          f"{self.source.what}", run=run)]

    def footprint(self, tasks: int | None = None) -> Footprint | None:
        return self.source.footprint(self.settings, tasks)

    # --- the run ---------------------------------------------------------------------------

    def open_session(self, ctx: SessionContext) -> HarnessSession:
        from benchdock.harnesses.benchmarks.terminalbench.session import TbenchSession

        try:
            env = load_env(self.settings.envs_dir)
        except EnvironmentMissing as exc:
            raise DatasetUnavailable(str(exc)) from None
        wanted = set(ctx.run.task_ids)
        return TbenchSession(env, ctx, {t.name: t for t in self.harbor_tasks()
                                        if t.name in wanted},
                             pull=(self.settings.var("BENCHDOCK_TBENCH_PULL") or "1") != "0",
                             prepare_tools=self.source.tools_online)

    def dimension_metrics(self) -> tuple[DimensionMetric, ...]:
        return MAP

    def tables(self, details: dict[str, Any], options: dict[str, Any]) -> list[Table]:
        rate = details.get("resolved_rate")
        lo, hi = details.get("ci95") or [0.0, 0.0]
        fails = ", ".join(f"{k} {v}" for k, v in sorted((details.get("failures")
                                                          or {}).items()))
        rec = details.get("recovery") or {}
        turns = details.get("mean_turns")
        return [Table(
            title=f"{self.id}, {AGENT_NAME}",
            headers=["resolved [95% CI]", "why the others failed", "mean turns", "tokens",
                     "resolved after an error on screen", "agent s", "verifier s", "n"],
            rows=[["-" if rate is None else f"{rate:.3f} [{lo:.2f}, {hi:.2f}]",
                   fails or "-", "-" if turns is None else f"{turns:.1f}",
                   str(details.get("tokens")),
                   f"{rec.get('resolved', 0)}/{rec.get('n', 0)}" if rec else "-",
                   str(details.get("agent_s")), str(details.get("verify_s")),
                   str(details.get("n"))]],
            note=("verdict: the task's tests/test.sh reward (1 = resolved), run in a fresh "
                  "network-less container of the agent's final filesystem"))]


def tbench_benchmarks() -> dict[str, Any]:
    return {s.bench_id: (lambda s=s: HarborTasks(s)) for s in sources.SOURCES}

