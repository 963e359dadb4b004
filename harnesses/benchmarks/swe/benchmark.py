"""`swe-local`: SWE-bench-format issue resolution, driven by mini-swe-agent, on benchdock's
local instance set (SWE-smith-style construction from real projects; toolz 1.2.0 first).

The agent under test is mini-swe-agent 2.4.6's DefaultAgent with its own SWE-bench prompt
configuration (`swebench_backticks.yaml`, text-based actions, by default: any OpenAI-
compatible server runs it; `swebench.yaml`, tool calls, with protocol=toolcall), the model
reached only through benchdock's recording proxy, the commands run in a network-less
container of the instance's image. The patch it submits is graded by swebench 5.0.2's own
report on a test log benchdock produces in a fresh container. Four dimensions: multi-step
planning and editing (resolved), repository understanding (the patch touched the files the
gold patch touches), debugging (resolved among instances whose first pytest run failed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from benchdock.harnesses.benchmarks.swe.construct import (
    CONSTRUCTION,
    DEFAULT_COUNT,
    DEFAULT_SEED,
    NAME,
    Instance,
    construct,
    load_instances,
)
from benchdock.harnesses.benchmarks.swe.environment import (
    MINI_SWE_AGENT_VERSION,
    SWEBENCH_VERSION,
    SWESMITH_VERSION,
    ensure_env,
    load_env,
)
from benchdock.harnesses.benchmarks.swe.project import (
    DEFAULT_PROJECT,
    PROJECTS,
    Project,
    ensure_image,
    swe_image,
)
from benchdock.harnesses.contract.benchmark import (
    DatasetUnavailable,
    ImageSpec,
    Requirement,
    SetupStep,
    Table,
    Task,
)
from benchdock.harnesses.contract.delegated import HarnessBenchmark, HarnessSession, SessionContext
from benchdock.harnesses.contract.dimensions import DimensionMetric, verdict_pass
from benchdock.harnesses.envs.managed import EnvironmentMissing
from benchdock.store.tables import Sample


class SweOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    protocol: Literal["text", "toolcall"] = Field(default="text", description=(
        "how the agent asks for commands: text = mini-swe-agent's swebench_backticks.yaml "
        "(a ```mswea_bash_command block; any server), toolcall = its swebench.yaml (the "
        "OpenAI tools field; llama-server needs --jinja)"))
    step_limit: int = Field(default=250, ge=1, le=1000, description=(
        "model calls per instance (mini-swe-agent's SWE-bench configuration: 250)"))
    wall_time_limit_s: int = Field(default=3600, ge=30, description=(
        "the agent's wall-time limit per instance (mini-swe-agent's TimeExceeded)"))
    command_timeout_s: int = Field(default=60, ge=5, le=3600, description=(
        "timeout of each command the agent runs (the SWE-bench configuration's 60 s)"))


def _touched_gold(sample: Sample) -> float | None:
    extra = sample.extra or {}
    if sample.verdict is None or "touched_gold_files" not in extra:
        return None
    return float(bool(extra["touched_gold_files"]))


def _debugged(sample: Sample) -> float | None:
    """Resolved, counted only where the trajectory's first pytest run failed (debugging.py)."""
    first = (sample.extra or {}).get("first_test_run") or {}
    if sample.verdict is None or not first.get("failed"):
        return None
    return verdict_pass(sample)


MAP = (
    DimensionMetric("planning", "resolved", "share of instances whose submitted patch makes "
                    "every FAIL_TO_PASS test pass and breaks no PASS_TO_PASS test, after an "
                    "agent loop of its own commands", outcome=verdict_pass),
    DimensionMetric("editing", "resolved", "the same: the agent's edits to an existing "
                    "repository are right", outcome=verdict_pass),
    DimensionMetric("repo_understanding", "touched the gold files", "share of instances whose "
                    "submitted patch changes a file the gold patch changes (file-level "
                    "localization)", outcome=_touched_gold),
    DimensionMetric("debugging", "resolved after a failing test run", "share resolved among "
                    "instances whose first pytest run in the agent's trajectory failed (its exit "
                    "status or pytest's failure lines); instances where the agent never ran "
                    "pytest, or saw it pass first, are not counted", outcome=_debugged),
)


class SweLocal(HarnessBenchmark):
    id = "swe-local"
    title = "SWE-bench-format issues on local projects, solved by mini-swe-agent"
    requests_per_task = 30.0
    tokens_per_request = 4000
    exec_s_per_task = 60.0
    metrics = ("resolved rate (= pass@1) with 95% CI", "touched gold files", "exit statuses",
               "steps", "tokens")
    Options: ClassVar[type[BaseModel]] = SweOptions
    main_option: ClassVar[str | None] = "protocol"
    details_key: ClassVar[str | None] = "swe"
    run_defaults: ClassVar[dict[str, Any]] = {"max_tokens": 2048}

    def __init__(self, project: Project | None = None) -> None:
        self._project = project
        self.dimensions = tuple(dict.fromkeys(m.dimension for m in MAP))
        self.description = (
            f"{NAME} from a real project (toolz 1.2.0, BSD-3; BENCHDOCK_SWE_LOCAL_PROJECT "
            f"chooses another of {', '.join(PROJECTS)}): bugs injected "
            "by SWE-smith's procedural modifiers, kept when tests catch them; mini-swe-agent "
            "fixes each in a network-less container with only bash, through benchdock's proxy; "
            "swebench's own report grades the patch on FAIL_TO_PASS and PASS_TO_PASS tests.")
        self.cost = ("10-60 model calls per instance, each with the whole "
                     "conversation (2-30k prompt tokens); two containers and a test run")

    @property
    def project(self) -> Project:
        """The project of the set: toolz unless BENCHDOCK_SWE_LOCAL_PROJECT names another
        (its instances are built by `benchdock setup swe-local` with the same variable)."""
        if self._project is not None:
            return self._project
        name = self.settings.var("BENCHDOCK_SWE_LOCAL_PROJECT") or DEFAULT_PROJECT
        if name not in PROJECTS:
            raise DatasetUnavailable(f"BENCHDOCK_SWE_LOCAL_PROJECT={name!r} is not one of "
                                     f"swe-local's projects: {', '.join(PROJECTS)}")
        return PROJECTS[name]

    @property
    def count(self) -> int:
        return int(self.settings.var("BENCHDOCK_SWE_LOCAL_COUNT") or DEFAULT_COUNT)

    @property
    def seed(self) -> int:
        return int(self.settings.var("BENCHDOCK_SWE_LOCAL_SEED") or DEFAULT_SEED)

    @property
    def nominal_tasks(self) -> int:  # type: ignore[override]
        return self.count

    @property
    def version(self) -> str:
        return (f"mini-swe-agent {MINI_SWE_AGENT_VERSION}, swebench {SWEBENCH_VERSION}, "
                f"{CONSTRUCTION} (swesmith {SWESMITH_VERSION} modifiers) on {self.project.name} "
                f"{self.project.version}, seed {self.seed}")

    def requirements(self) -> list[Requirement]:
        return [
            Requirement(kind="docker", name="a Docker engine", how="install Docker"),
            Requirement(kind="venv", name=f"mini-swe-agent {MINI_SWE_AGENT_VERSION} + swebench "
                        f"{SWEBENCH_VERSION} + swesmith {SWESMITH_VERSION}",
                        how="benchdock setup swe-local (~820 MB)"),
            Requirement(kind="image", name=swe_image(self.settings), how=(
                "benchdock build-image --harness swe-local (or benchdock setup swe-local)")),
            Requirement(kind="dataset", name=f"{CONSTRUCTION} instances of {self.project.name}",
                        how="benchdock setup swe-local (built locally, ~20 s per candidate bug)"),
        ]

    def images(self) -> list[ImageSpec]:
        return [ImageSpec(name="swe-local", package="benchdock.harnesses.benchmarks.swe",
                          tag=swe_image(self.settings),
                          what="Python with git and pytest for the projects' repositories")]

    def setups(self) -> list[SetupStep]:
        def run(say: Callable[[str], None]) -> str:
            env = ensure_env(self.settings.envs_dir, say=say)
            base = self.settings.var("BENCHDOCK_SWE_BASE_IMAGE")
            ensure_image(self.settings, base, say)  # also when the instances are cached
            got = construct(self.settings, self.project, env.python, self.seed, self.count,
                            base, say)
            return f"{len(got)} instances of {self.project.name}; agent venv {env.root}"

        return [SetupStep(name="swe-local", what=(
            f"mini-swe-agent's venv, the {self.project.name} image and {NAME}'s instances"),
            run=run, installed=lambda: self.readiness() is None, download_mb=400,
            disk_mb=2500, minutes=12)]

    def instances(self) -> list[Instance]:
        got = load_instances(self.settings, self.project, self.seed, self.count)
        if got is None:
            raise DatasetUnavailable(f"the {self.project.name} instance set is not built; run "
                                     "`benchdock setup swe-local` once")
        return got

    def readiness(self) -> str | None:
        try:
            load_env(self.settings.envs_dir)
        except EnvironmentMissing as exc:
            return str(exc)
        if load_instances(self.settings, self.project, self.seed, self.count) is None:
            return ("its instances are not built: run `benchdock setup swe-local` once "
                    "(venv, image, instances)")
        return None

    def tasks(self) -> list[Task]:
        return [Task(id=i.instance_id, prompt=i.problem_statement, entry_point="")
                for i in self.instances()]

    def dataset_hash(self) -> str:
        import hashlib

        blob = "".join(i.model_dump_json() for i in self.instances())
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def open_session(self, ctx: SessionContext) -> HarnessSession:
        from benchdock.harnesses.benchmarks.swe.session import SweSession

        try:
            env = load_env(self.settings.envs_dir)
        except EnvironmentMissing as exc:
            raise DatasetUnavailable(str(exc)) from None
        wanted = set(ctx.run.task_ids)
        return SweSession(env, ctx, self.project,
                          {i.instance_id: i for i in self.instances() if i.instance_id in wanted})

    def dimension_metrics(self) -> tuple[DimensionMetric, ...]:
        return MAP

    def tables(self, details: dict[str, Any], options: dict[str, Any]) -> list[Table]:
        rate = details.get("resolved_rate")
        lo, hi = details.get("ci95") or [0.0, 0.0]
        loc = details.get("touched_gold_files")
        dbg = details.get("debugging") or {}
        statuses = ", ".join(f"{k} {v}" for k, v in sorted((details.get("exit_statuses")
                                                              or {}).items()))
        return [Table(
            title=f"swe-local ({NAME}), mini-swe-agent config {details.get('config')}",
            headers=["resolved [95% CI]", "touched gold files", "patch applied", "exit statuses",
                     "mean steps", "tokens", "resolved after a failing test run", "n"],
            rows=[["-" if rate is None else f"{rate:.3f} [{lo:.2f}, {hi:.2f}]",
                   "-" if loc is None else f"{loc:.0%}", str(details.get("patch_applied")),
                   statuses or "-", "-" if details.get("mean_steps") is None else
                   f"{details['mean_steps']:.1f}", str(details.get("tokens")),
                   f"{dbg.get('resolved', 0)}/{dbg.get('n', 0)}" if dbg else "-",
                   str(details.get("n"))]],
            note=("grading: swebench's get_eval_report; benchdock's own reading disagreed on "
                  f"{details.get('grading_disagreements', 0)} instance(s)"))]


def swe_benchmarks() -> dict[str, Any]:
    return {"swe-local": SweLocal}
