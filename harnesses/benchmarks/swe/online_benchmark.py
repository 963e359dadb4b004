"""`swe-verified`, `swe-lite`, `swe-mini`: the published SWE-bench sets, solved by
mini-swe-agent exactly as `swe-local` (same options, prompts, proxy, confinement and
swebench report), on the official per-instance images (online.py), with what a run pulls
and how long it takes said before it starts (estimate.py, `footprint`).

One declaration, three benchmarks (as aider's polyglot and its languages): a `Variant` says
which set. They share a family: an instance id is the same task in Verified, its mini
subset and (for the instances both hold) Lite.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from benchdock.harnesses.benchmarks.swe import estimate
from benchdock.harnesses.benchmarks.swe.benchmark import MAP, SweOptions
from benchdock.harnesses.benchmarks.swe.environment import (
    MINI_SWE_AGENT_VERSION,
    SWEBENCH_VERSION,
    ensure_env,
    load_env,
)
from benchdock.harnesses.benchmarks.swe.online import (
    VARIANTS,
    OnlineInstance,
    Variant,
    download,
    load_instances,
)
from benchdock.harnesses.contract.benchmark import (
    DatasetUnavailable,
    Footprint,
    Requirement,
    SetupStep,
    Table,
    Task,
)
from benchdock.harnesses.contract.delegated import HarnessBenchmark, HarnessSession, SessionContext
from benchdock.harnesses.contract.dimensions import DimensionMetric
from benchdock.harnesses.envs.managed import EnvironmentMissing

FAMILY = "swe-bench"


class SweBench(HarnessBenchmark):
    """One published SWE-bench set (see the module's docstring)."""

    metrics = ("resolved rate (= pass@1) with 95% CI", "touched gold files", "exit statuses",
               "steps", "tokens")
    Options: ClassVar[type[BaseModel]] = SweOptions
    main_option: ClassVar[str | None] = "protocol"
    details_key: ClassVar[str | None] = "swe"
    run_defaults: ClassVar[dict[str, Any]] = {"max_tokens": 2048}
    # declared cost per instance, until runs on the endpoint measure it: mini-swe-agent
    # takes tens of steps on most instances (the step limit is 250), each answer a few
    # hundred tokens; containers, the eval script and a pull's share add about a minute
    requests_per_task = 40.0
    tokens_per_request = 250
    exec_s_per_task = 60.0

    def __init__(self, variant: Variant) -> None:
        self.variant = variant
        self.id = variant.bench_id
        self.title = f"{variant.title}: real GitHub issues solved by mini-swe-agent"
        self.dimensions = tuple(dict.fromkeys(m.dimension for m in MAP))
        self.nominal_tasks = variant.count
        self.description = (
            f"{variant.title} ({variant.dataset}): {variant.about}. mini-swe-agent "
            f"{MINI_SWE_AGENT_VERSION} fixes each issue with only bash in a network-less "
            "container of the instance's official image (pulled from Docker Hub when a run "
            f"needs it), through benchdock's proxy; swebench {SWEBENCH_VERSION}'s report "
            "grades the patch with the instance's eval script and log parser.")
        pub = estimate.PUBLISHED[variant.key]
        self.cost = (f"{variant.count} images (~{pub.disk_gb:.0f} GB on disk, "
                     f"~{pub.download_gb:.0f} GB to pull); 10-60 model calls per instance; "
                     "~3 min each at ~100 tokens/s")

    @property
    def family(self) -> str:
        return FAMILY

    @property
    def version(self) -> str:
        return (f"mini-swe-agent {MINI_SWE_AGENT_VERSION}, swebench {SWEBENCH_VERSION}, "
                f"{self.variant.dataset} ({self.variant.split})")

    # --- data ------------------------------------------------------------------------------

    def _python(self) -> Path | None:
        """The swe venv's interpreter (it reads parquet copies), if it is installed."""
        try:
            return load_env(self.settings.envs_dir).python
        except EnvironmentMissing:
            return None

    def instances(self) -> list[OnlineInstance]:
        got = load_instances(self.settings, self.variant, self._python())
        if got is None:
            raise DatasetUnavailable(
                f"{self.variant.dataset} is not downloaded: run `benchdock setup {self.id}` "
                f"(needs the Hugging Face hub) or set {self.variant.override_var} to a local "
                ".jsonl/.json/.parquet copy")
        return got

    def tasks(self) -> list[Task]:
        return [Task(id=i.instance_id, prompt=i.problem_statement, entry_point="")
                for i in self.instances()]

    def dataset_hash(self) -> str:
        blob = "".join(i.model_dump_json() for i in self.instances())
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    # --- what it needs ---------------------------------------------------------------------

    def requirements(self) -> list[Requirement]:
        fp = estimate.PUBLISHED[self.variant.key]
        return [
            Requirement(kind="docker", name="a Docker engine", how="install Docker"),
            Requirement(kind="venv", name=f"mini-swe-agent {MINI_SWE_AGENT_VERSION} + swebench "
                        f"{SWEBENCH_VERSION} (the swe venv)",
                        how=f"benchdock setup {self.id} (~820 MB, shared with swe-local)"),
            Requirement(kind="dataset", name=f"{self.variant.dataset} ({self.variant.split})",
                        how=(f"benchdock setup {self.id} (from the Hugging Face hub), or "
                             f"{self.variant.override_var}=a local copy")),
            Requirement(kind="image", name=(
                f"{self.variant.count} swebench/sweb.eval.x86_64.* images (~{fp.disk_gb:.0f} "
                "GB)"), how=("pulled from Docker Hub when a run needs them (never by setup; "
                             "BENCHDOCK_SWE_PULL=0 forbids it); without Docker Hub, `docker "
                             "load` them")),
        ]

    def readiness(self) -> str | None:
        try:
            load_env(self.settings.envs_dir)
        except EnvironmentMissing as exc:
            return str(exc)
        try:
            got = load_instances(self.settings, self.variant, self._python())
        except DatasetUnavailable as exc:
            return str(exc)
        if got is None:
            return (f"{self.variant.dataset} is not downloaded: run `benchdock setup {self.id}` "
                    f"(Hugging Face hub) or set {self.variant.override_var}")
        return None

    def setups(self) -> list[SetupStep]:
        def run(say: Callable[[str], None]) -> str:
            env = ensure_env(self.settings.envs_dir, say=say)
            path = download(self.settings, self.variant, env.python, say)
            fp = self.footprint()
            return (f"{path}; agent venv {env.root}; no image pulled: a full run pulls "
                    f"{fp.items - fp.present} images (~{fp.download_gb:.0f} GB, "
                    f"~{fp.disk_gb:.0f} GB on disk)")

        return [SetupStep(name=self.id, what=(
            f"mini-swe-agent's venv and {self.variant.dataset} (no image: those are pulled "
            "when a run needs them)"), run=run, installed=lambda: self.readiness() is None,
            source=f"https://huggingface.co/datasets/{self.variant.dataset}",
            download_mb=220, disk_mb=850, minutes=4)]

    def footprint(self, tasks: int | None = None) -> Footprint:
        try:
            got = load_instances(self.settings, self.variant, self._python())
        except DatasetUnavailable:
            got = None
        return estimate.footprint(self.settings, self.variant, tasks, got)

    # --- the run ---------------------------------------------------------------------------

    def open_session(self, ctx: SessionContext) -> HarnessSession:
        from benchdock.harnesses.benchmarks.swe.online_session import OnlineSession

        try:
            env = load_env(self.settings.envs_dir)
        except EnvironmentMissing as exc:
            raise DatasetUnavailable(str(exc)) from None
        wanted = set(ctx.run.task_ids)
        pull = (self.settings.var("BENCHDOCK_SWE_PULL") or "1") != "0"
        return OnlineSession(env, ctx, {i.instance_id: i for i in self.instances()
                                        if i.instance_id in wanted}, pull=pull)

    def dimension_metrics(self) -> tuple[DimensionMetric, ...]:
        return MAP

    def tables(self, details: dict[str, Any], options: dict[str, Any]) -> list[Table]:
        rate = details.get("resolved_rate")
        lo, hi = details.get("ci95") or [0.0, 0.0]
        loc = details.get("touched_gold_files")
        statuses = ", ".join(f"{k} {v}" for k, v in sorted((details.get("exit_statuses")
                                                              or {}).items()))
        steps = details.get("mean_steps")
        return [Table(
            title=f"{self.id} ({self.variant.dataset}), mini-swe-agent config "
                  f"{details.get('config')}",
            headers=["resolved [95% CI]", "touched gold files", "patch applied", "exit statuses",
                     "mean steps", "tokens", "n"],
            rows=[["-" if rate is None else f"{rate:.3f} [{lo:.2f}, {hi:.2f}]",
                   "-" if loc is None else f"{loc:.0%}", str(details.get("patch_applied")),
                   statuses or "-", "-" if steps is None else f"{steps:.1f}",
                   str(details.get("tokens")), str(details.get("n"))]],
            note="grading: swebench's get_eval_report with each instance's log parser")]


def online_benchmarks() -> dict[str, Any]:
    return {v.bench_id: (lambda v=v: SweBench(v)) for v in VARIANTS.values()}
