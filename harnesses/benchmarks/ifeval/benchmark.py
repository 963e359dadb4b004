"""`ifeval`: Google's IFEval as a benchdock benchmark (one declaration on the seam).

541 prompts, each with one to three verifiable instructions ("answer in under 100 words",
"no commas", "wrap the answer in JSON", ...), 834 instructions of 25 types. The model is
asked each prompt as it is (one user message, greedy, 1280 new tokens as lm-eval's task);
its response is checked by lm-eval 0.4.13's port of Google's checkers, in IFEval's venv (see
`environment.py`, `drivers/checker.py`). Reports IFEval's four numbers; pass@1 and the
instruction-following dimension are prompt-level strict accuracy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, ClassVar

from benchdock.harnesses.benchmarks.ifeval import scoring
from benchdock.harnesses.benchmarks.ifeval.environment import (
    DATA_PACKAGE,
    LM_EVAL_VERSION,
    EnvironmentMissing,
    IfevalEnv,
    load_env,
)
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

# what it bind-mounts from this machine (a remote Docker engine cannot run it)
HOST_MOUNTS = ("IFEval's managed venv, its NLTK data and the host's "
               "Python")

class IfEval(HarnessBenchmark):
    host_mounts: ClassVar[str | None] = HOST_MOUNTS
    id = "ifeval"
    title = "IFEval (Google): 541 prompts with verifiable instructions"
    description = (
        "Follow every verifiable instruction in a prompt (length, format, keywords, case, "
        "language, ...). Scored by lm-eval's port of Google's checkers; reports IFEval's four "
        "numbers (prompt- and instruction-level, strict and loose). The response is text: "
        "it is checked, never executed.")
    dimensions = ("instruction_following",)
    metrics = ("pass@1 (= prompt-level strict)", "prompt-level strict", "prompt-level loose",
               "instruction-level strict", "instruction-level loose")
    nominal_tasks = 541
    cost = "541 requests, ~40k prompt tokens and up to 1280 generated tokens each"
    run_defaults: ClassVar[dict[str, Any]] = {"max_tokens": 1280}  # lm-eval's max_gen_toks
    details_key: ClassVar[str | None] = "ifeval"
    exec_s_per_task = 0.05  # a check takes milliseconds; ~260 tokens out per answer on SmolLM2

    @property
    def version(self) -> str:
        return f"lm-eval {LM_EVAL_VERSION} IFEval checkers; data from {DATA_PACKAGE}"

    def dimension_metrics(self) -> tuple[DimensionMetric, ...]:
        return (DimensionMetric(
            "instruction_following", "prompt-level strict accuracy",
            "share of prompts whose every instruction the response follows as written "
            "(IFEval's prompt-level strict)", outcome=scoring.prompt_strict),)

    def requirements(self) -> list[Requirement]:
        return [Requirement(kind="venv", name=f"IFEval checkers (lm-eval {LM_EVAL_VERSION})",
                            how="benchdock setup ifeval (about 30 s and 260 MB)"),
                Requirement(kind="docker", name=self.settings.sandbox_image, optional=True,
                            how="benchdock build-image (else the checker runs under bubblewrap)")]

    def readiness(self) -> str | None:
        try:
            self._env()
        except DatasetUnavailable as exc:
            return str(exc)
        return host_mount_refusal(self)

    def images(self) -> list[ImageSpec]:
        return [sandbox_image(self.settings)]

    def setups(self) -> list[SetupStep]:
        from benchdock.harnesses.benchmarks.ifeval.environment import ensure_env

        def run(say: Callable[[str], None]) -> str:
            env = ensure_env(self.settings.envs_dir, say=say)
            return f"{env.root} (Python {env.python_version}; punkt: {env.punkt_source})"

        return [SetupStep(name="ifeval", what=f"lm-eval {LM_EVAL_VERSION}'s IFEval checkers, "
                          "IFEval's data and NLTK's punkt_tab, in a venv", run=run,
                          installed=found_by(lambda: load_env(self.settings.envs_dir)),
                          download_mb=60, disk_mb=260, minutes=2)]

    def _env(self) -> IfevalEnv:
        try:
            return load_env(self.settings.envs_dir)
        except EnvironmentMissing as exc:
            raise DatasetUnavailable(str(exc)) from None

    def tasks(self) -> list[Task]:
        out = []
        with self._env().data_file.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    row = json.loads(line)
                    out.append(Task(id=f"IFEval/{row['key']}", prompt=row["prompt"],
                                    entry_point="", data=row))
        return out

    def dataset_hash(self) -> str:
        return hashlib.sha256(self._env().data_file.read_bytes()).hexdigest()[:16]

    def open_session(self, ctx: SessionContext) -> HarnessSession:
        from benchdock.harnesses.benchmarks.ifeval.session import IfevalSession

        return IfevalSession(load_env(self.settings.envs_dir), ctx)

    def tables(self, details: dict[str, Any], options: dict[str, Any]) -> list[Table]:
        return scoring.tables(details)
