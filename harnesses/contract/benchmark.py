"""What a benchmark is: one declaration that says everything benchdock needs to offer it.

Its id, title, version and dataset; its options (a typed model with its own validation and
descriptions, e.g. BFCL's `mode`); what it needs on this machine (an image, a managed venv,
data) and whether that is there; its per-benchmark run defaults; the figures it adds to
pass@k and how they render as tables; and its dimension rows.

Tools, CLI, service, views, evidence and report read these declarations and name no
benchmark. A benchmark is one package: a subclass of `Benchmark` (benchdock asks the model
once per task and scores the code) or of `HarnessBenchmark` (`delegated.py`: a reference
harness asks and judges through benchdock's proxy), listed in `registry.py` or published by
another package under the `benchdock.benchmarks` entry-point group. The declaration says
what, never how: it imports nothing of the engine, which chooses how to run it by its kind.
Every benchmark passes the same contract test.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from benchdock.harnesses.config import EndpointConfig, Settings
from benchdock.harnesses.contract.compact import Compact
from benchdock.harnesses.contract.dimensions import DIMENSIONS, DimensionMetric, DimensionRow
from benchdock.harnesses.errors import BenchdockError
from benchdock.harnesses.sandbox import Sandbox

__all__ = ["DIMENSIONS", "Benchmark", "BenchmarkBase", "BenchmarkBrief", "BenchmarkInfo",
           "DatasetUnavailable", "Footprint", "Frontier", "NoOptions", "Requirement", "Table", "Task", "Verdict"]

VerdictName = Literal["pass", "fail", "error", "timeout"]
DEFAULT_MAX_TOKENS = 768  # EvalPlus's chat codegen; a benchmark may declare its own


class Task(BaseModel):
    id: str
    prompt: str
    entry_point: str
    data: dict[str, Any] = Field(default_factory=dict, exclude=True)


class Verdict(BaseModel):
    verdict: VerdictName
    base: VerdictName | None = None
    plus: VerdictName | None = None
    detail: str | None = None
    exec_s: float = 0.0
    extra: dict[str, Any] | None = Field(default=None, description=(
        "The sample's own evidence beyond the verdict (stored as the sample's `extra`)"))


class NoOptions(BaseModel):
    """A benchmark without options refuses any."""

    model_config = ConfigDict(extra="forbid")


class Requirement(BaseModel):
    """Something a benchmark needs on this machine, and how to get it."""

    kind: Literal["docker", "image", "venv", "dataset", "internet", "toolchain"]
    name: str = Field(description="What exactly, e.g. an image tag or a venv's name")
    how: str = Field(description="How to get it, e.g. `benchdock setup bfcl`")
    optional: bool = Field(default=False, description=(
        "Runs without it (e.g. Docker: the local sandbox is used instead)"))


class ImageSpec(BaseModel):
    """A Docker image a benchmark runs in, built by `benchdock build-image --harness NAME`."""

    name: str = Field(description="What `benchdock build-image --harness` calls it")
    package: str = Field(description="The Python package holding its Dockerfile")
    tag: str
    expected: tuple[str, ...] = Field(default=(), description=(
        "Toolchains the built image must record as installed, or the build fails"))
    what: str = ""


class Footprint(BaseModel):
    """What a run must download and keep on this machine before its tasks can run (e.g.
    SWE-bench's per-instance images), so that a plan can say it before anything is pulled."""

    what: str = Field(description="What would be downloaded, e.g. which images")
    items: int = Field(description="How many are needed for the run")
    present: int = Field(default=0, description="How many of them are already here")
    download_gb: float = Field(description="Estimated transfer for the missing ones, GB")
    disk_gb: float = Field(description="Estimated disk the run needs (images and work), GB")
    download_minutes: float = Field(description=(
        "Estimated time to download them, once per machine (not per model)"))
    basis: str = Field(description="Where the figures come from (published or measured)")
    examples: list[str] = Field(default_factory=list, description=(
        "A few of the items, e.g. image names"))


class Frontier(BaseModel):
    """How saturated a benchmark is: the best published pass@1 and where it comes from. The
    choice code prefers, for a dimension, the ready benchmark with the lowest frontier score:
    where the best models already score ~95%, the models a user chooses between differ by
    noise; where they score ~50%, they still differ."""

    pass_at_1: float = Field(ge=0.0, le=1.0, description="The frontier models' pass@1")
    model: str = Field(description="Which models that figure is for")
    source: str = Field(description="Where the figure is published")


class SetupStep(BaseModel):
    """Something `benchdock setup NAME` (or the `setup_benchmark` tool) installs, once: a
    managed venv, a dataset, an image a benchmark cannot run without. Its declared cost is
    what a plan says before anything is downloaded; `installed` says whether it is there."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    what: str
    run: Callable[[Callable[[str], None]], str] = Field(description=(
        "Installs it (saying progress); returns where it is"))
    installed: Callable[[], bool] | None = Field(default=None, description=(
        "Whether it is installed already (None: unknown, so setting up runs it)"))
    download_mb: float | None = Field(default=None, description="Declared transfer, MB")
    disk_mb: float | None = Field(default=None, description="Declared disk once installed, MB")
    minutes: float | None = Field(default=None, description=(
        "Declared time to install on a 2-core machine with a warm package index"))
    source: str | None = Field(default=None, description=(
        "The URL it downloads from, when one host serves it (checked before planning); "
        "None for a package index or several hosts"))


def found_by(load: Callable[[], object]) -> Callable[[], bool]:
    """A set-up step's `installed` check from the function that loads its product (raising
    when it is missing, e.g. a managed venv's `load_env`)."""

    def check() -> bool:
        try:
            load()
        except Exception:
            return False
        return True

    return check


class Table(BaseModel):
    """A benchmark's own figures, rendered the same way for the tool, the CLI and the report."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str | None = None


class BenchmarkBrief(Compact):
    """One line of `list_benchmarks`: enough to choose, small enough for an agent's context."""

    id: str = Field(description="Pass this to run_benchmark (or describe_benchmark)")
    title: str
    dimensions: list[str]
    tasks: int
    cost: str
    ready: bool = Field(description="Whether it can run on this machine now")
    why_not: str | None = Field(default=None, description="What is missing, and how to get it")
    setup: str | None = Field(default=None, description=(
        "The set-up that makes it ready (setup_benchmark), with its cost"))
    variants: list[str] | None = Field(default=None, description=(
        "Parts runnable on their own, as `id (tasks)`; describe_benchmark tells more"))


BRIEF_REASON_CHARS = 110


def brief_reason(why: str | None) -> str | None:
    """A list line's "why not": the command that fixes it where the reason names one.

    The full reason (paths, sizes, minutes) is in describe_benchmark; listing it for every
    benchmark that is not set up would spend the agent's context on repeats of the same
    set-up advice (list_benchmarks stays within 4,000 bytes with a dozen families)."""
    if why is None or len(why) <= BRIEF_REASON_CHARS:
        return why
    command = re.search(r"`(benchdock [^`]+)`", why)
    if command:
        return f"not set up here: run `{command.group(1)}` (describe_benchmark says more)"
    return why[:BRIEF_REASON_CHARS].rstrip() + "…"


class BenchmarkInfo(BaseModel):
    id: str = Field(description="Pass this to run_benchmark")
    title: str
    description: str
    dimensions: list[str] = Field(description="Which of the ten capability dimensions it measures")
    task_count: int
    needs: list[Requirement] = Field(description="What it requires here and how to get it")
    ready: bool
    why_not: str | None = None
    setup: str | None = Field(default=None, description=(
        "The set-up that makes it ready (setup_benchmark), with its cost"))
    metrics: list[str] = Field(description="Metric names get_results reports")
    cost: str = Field(description="Rough cost: requests and tokens per full run")
    version: str
    options: dict[str, Any] = Field(description=(
        "JSON schema of the benchmark's own options (run_benchmark's `options`; `mode` sets "
        "the one named by main_option)"))
    main_option: str | None = None
    run_defaults: dict[str, Any] = Field(description=(
        "Run settings whose default differs for this benchmark (e.g. max_tokens)"))
    dimension_map: list[DimensionRow] = Field(description=(
        "Which metric of this benchmark measures which dimension (what compare_dimensions "
        "and recommend_model use)"))
    family: str = Field(description=(
        "Benchmarks of one family share tasks (bfcl and bfcl-simple): per task, the newest "
        "run of the family counts"))
    parts: list[str] = Field(description="Its parts (`limit` applies per part on suites)")
    footprint: Footprint | None = Field(default=None, description=(
        "What a full run downloads and keeps on disk first (images), when that matters"))
    frontier: Frontier | None = Field(default=None, description=(
        "The best published pass@1 and its source: how saturated it is (the choice tools "
        "prefer the least saturated ready benchmark of a dimension)"))


class DatasetUnavailable(RuntimeError):
    """The dataset cannot be loaded here (e.g. no internet for a download); says what to do."""


class BenchmarkBase(ABC):
    """What every benchmark declares, however its samples are solved and judged."""

    id: str
    title: str
    description: str
    dimensions: tuple[str, ...]
    metrics: tuple[str, ...] = ("pass@1",)
    nominal_tasks: int
    cost: str = ""
    # its options: a pydantic model (validation, defaults and descriptions in one place)
    Options: ClassVar[type[BaseModel]] = NoOptions
    # the option `mode` (run_benchmark, `benchdock run --mode`) stands for, if any
    main_option: ClassVar[str | None] = None
    # run settings whose default differs here (e.g. {"max_tokens": 4096})
    run_defaults: ClassVar[dict[str, Any]] = {}
    # the key of its own figures in a run's metrics (beyond pass@k), if it has any
    details_key: ClassVar[str | None] = None
    # what of this machine its containers bind-mount (e.g. its managed venv), if anything: a
    # Docker engine on another machine cannot run it, and it is refused there up front
    host_mounts: ClassVar[str | None] = None
    # rough per-task cost for time estimates before anything was measured on the endpoint
    requests_per_task: float = 1.0
    tokens_per_request: int = 300
    exec_s_per_task: float = 0.5
    # the best published pass@1 and its source, where known (see Frontier)
    frontier: ClassVar[Frontier | None] = None
    _settings: Settings | None = None

    # --- where it runs ---------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The settings it was made for (the registry binds them); the environment's else."""
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    def bind(self, settings: Settings | None) -> BenchmarkBase:
        if settings is not None:
            self._settings = settings
        return self

    def requirements(self) -> list[Requirement]:
        """What it needs here; `readiness` says which of them is missing."""
        return []

    def readiness(self) -> str | None:
        """What is missing on this machine to run it (cheap: no download), or None."""
        return None

    def images(self) -> list[ImageSpec]:
        """The images it runs in (`benchdock build-image --harness NAME`)."""
        return []

    def setups(self) -> list[SetupStep]:
        """What `benchdock setup NAME` installs for it."""
        return []

    def footprint(self, tasks: int | None = None) -> Footprint | None:
        """What a run of its first `tasks` tasks (all by default) downloads before it can
        run, when that is worth planning for (GBs, not a dataset file); None otherwise."""
        return None

    # --- what it is -------------------------------------------------------------------------

    @property
    def family(self) -> str:
        """Benchmarks that share task ids share a family (a suite and its parts)."""
        return self.id

    def part(self, task_id: str) -> str:
        """Which part of the family a task belongs to (a BFCL category, an Aider language)."""
        return self.family

    @property
    def parts(self) -> tuple[str, ...]:
        """The parts this benchmark runs (`limit` applies per part on suites)."""
        return (self.family,)

    def dimension_metrics(self) -> tuple[DimensionMetric, ...]:
        """The map rows: by default, pass@1 measures each declared dimension."""
        return tuple(DimensionMetric(d, "pass@1", "share of tasks whose answer passes")
                     for d in self.dimensions)

    @property
    @abstractmethod
    def version(self) -> str: ...

    @abstractmethod
    def tasks(self) -> list[Task]:
        """All tasks in dataset order (loads the dataset; may download it)."""

    @abstractmethod
    def dataset_hash(self) -> str: ...

    def first(self, ids: list[str], limit: int) -> list[str]:
        """What `limit` keeps of the task ids (in order): the first N."""
        return ids[:limit]

    # --- how a run is set up and executed ---------------------------------------------------

    def parse_options(self, raw: dict[str, Any]) -> BaseModel:
        """The options, validated; a bad one is an error naming it and the valid choices."""
        try:
            return self.Options.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['input']!r} is not "
                f"valid: {e['msg']}" if e["type"] != "missing" else
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in exc.errors())
            names = ", ".join(self.Options.model_fields) or "none"
            raise BenchdockError(f"invalid options for {self.id}: {problems} (its options: "
                                 f"{names})") from None

    async def configure(self, endpoint: EndpointConfig, model: str,
                        options: BaseModel) -> tuple[dict[str, Any], str | None]:
        """Options decided when the run is queued (e.g. probing how to ask the model): the
        options to store with the run, and why they are what they are."""
        return options.model_dump(), None

    # --- its own figures -------------------------------------------------------------------

    def tables(self, details: dict[str, Any], options: dict[str, Any]) -> list[Table]:
        """Its figures beyond pass@k (`metrics[details_key]`) as tables."""
        return []

    # --- how it is listed ------------------------------------------------------------------

    def brief(self) -> BenchmarkBrief:
        why = self.readiness()
        return BenchmarkBrief(id=self.id, title=self.title, dimensions=list(self.dimensions),
                              tasks=self.nominal_tasks, cost=self.cost, ready=why is None,
                              why_not=brief_reason(why))

    def info(self) -> BenchmarkInfo:
        why = self.readiness()
        return BenchmarkInfo(
            id=self.id, title=self.title, description=self.description,
            dimensions=list(self.dimensions), task_count=self.nominal_tasks,
            needs=self.requirements(), ready=why is None, why_not=why,
            metrics=list(self.metrics), cost=self.cost, version=self.version,
            options=self.Options.model_json_schema(), main_option=self.main_option,
            run_defaults=dict(self.run_defaults), family=self.family, parts=list(self.parts),
            dimension_map=[m.row() for m in self.dimension_metrics()],
            footprint=self.footprint(), frontier=self.frontier,
        )


class Benchmark(BenchmarkBase):
    """One chat request per sample, benchdock extracts the code and scores it in the sandbox."""

    @abstractmethod
    def messages(self, task: Task) -> list[dict[str, str]]:
        """The chat request for one task."""

    @abstractmethod
    def extract(self, task: Task, completion: str) -> str:
        """The code to run, taken out of the model's answer."""

    @abstractmethod
    def reference(self, task: Task) -> str:
        """A known-right answer, as a model would give it (for contract tests and timing)."""

    def prepare(self, sandbox: Sandbox, tasks: list[Task]) -> None:
        """Once per run before scoring: install checker code, compute expected outputs."""

    @abstractmethod
    def score(self, task: Task, code: str, sandbox: Sandbox) -> Verdict: ...

    def sandbox_tag(self) -> str:
        """The image its sandbox runs (a benchmark needing more than Python says which)."""
        return self.settings.sandbox_image

    def sandbox_network(self) -> bool:
        """Whether its sandbox may reach the network (off unless the user allows it for a
        benchmark whose tests need it, e.g. BENCHDOCK_BIGCODEBENCH_NETWORK=1)."""
        return False

    def summarise(self, samples: list[Any]) -> dict[str, Any]:
        """Its own run figures from the scored samples (`metrics[details_key]`), if any."""
        return {}

    def requirements(self) -> list[Requirement]:
        return [Requirement(kind="docker", name=self.settings.sandbox_image, optional=True,
                            how="benchdock build-image (else the local sandbox is used)")]

    def images(self) -> list[ImageSpec]:
        return [sandbox_image(self.settings)]


def sandbox_image(settings: Settings) -> ImageSpec:
    """The sandbox image (Python and the few libraries checkers import), which chat-scored
    benchmarks and BFCL run in."""
    return ImageSpec(name="sandbox", package="benchdock.harnesses.sandbox",
                     tag=settings.sandbox_image, what="Python for scoring code and for BFCL")
