"""Aider's polyglot benchmark as benchdock benchmarks: `aider-polyglot` (all six languages)
and `aider-polyglot-<language>`.

The agent under test is aider itself editing each exercise's solution files in one of its
edit formats; the protocol (two attempts, the second with the failing tests' output) is
Aider's benchmark's, reproduced by `drivers/agent.py`. Three dimensions at once: editing (pass rate
after attempt 1), multi-language (the same per language) and debugging from error feedback
(the gain from attempt 1 to attempt 2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from benchdock.harnesses.benchmarks.aider.environment import (
    AIDER_VERSION,
    EnvironmentMissing,
    load_env,
)
from benchdock.harnesses.benchmarks.aider.exercises import (
    ARCHIVE_URL,
    LANGUAGES,
    REVISION,
    Exercise,
    dataset_root,
    ensure_dataset,
    load_exercises,
    polyglot_image,
    tree_hash,
)
from benchdock.harnesses.client.reach import unreachable
from benchdock.harnesses.config import EndpointConfig
from benchdock.harnesses.contract.benchmark import (
    DatasetUnavailable,
    ImageSpec,
    Requirement,
    SetupStep,
    Table,
    Task,
    found_by,
)
from benchdock.harnesses.contract.delegated import HarnessBenchmark, HarnessSession, SessionContext
from benchdock.harnesses.contract.dimensions import DimensionMetric
from benchdock.harnesses.contract.registry import host_mount_refusal
from benchdock.harnesses.errors import BenchdockError
from benchdock.store.tables import Sample

# what the polyglot image must hold, as its build records it
TOOLCHAINS = ("python", "cpp", "go", "rust", "rust-crates", "java", "javascript")
# aider's edit formats that need no second (editor) model
EDIT_FORMATS = ("whole", "diff", "diff-fenced", "udiff", "udiff-simple", "patch")


# what it bind-mounts from this machine (a remote Docker engine cannot run it)
HOST_MOUNTS = ("aider's managed venv, the host's Python and "
               "the recording proxy's unix socket")

class AiderOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    edit_format: Literal["auto", "whole", "diff", "diff-fenced", "udiff", "udiff-simple",
                         "patch"] = Field(default="auto", description=(
        "aider's edit format; auto = the format aider picks for the model (whole for "
        "models it does not know)"))


def _ran(sample: Sample) -> list[bool] | None:
    """Each attempt's test outcome, or None when the exercise says nothing about the model:
    not scored yet, its toolchain was missing from the image, or it defines no tests."""
    extra = sample.extra or {}
    if sample.verdict is None or extra.get("status") in ("toolchain_missing", "unjudgeable"):
        return None
    return [bool(x) for x in extra.get("tests_outcomes") or []]


def attempt_1(sample: Sample) -> float | None:
    """Passed on the first try (a crash or overrun counts as not passed, as in Aider's own)."""
    ran = _ran(sample)
    return None if ran is None else float(bool(ran) and ran[0])


def recovery(sample: Sample) -> float | None:
    """Of the exercises that failed attempt 1, whether attempt 2 (with the test output) fixed
    it; exercises that passed at once say nothing about debugging."""
    ran = _ran(sample)
    if ran is None or (ran and ran[0]):
        return None
    return float(len(ran) > 1 and ran[1])


MAP = (
    DimensionMetric("editing", "pass rate after attempt 1", "share of exercises whose "
                    "edit passes the tests on the first try", outcome=attempt_1),
    DimensionMetric("multi_language", "pass rate after attempt 1, not Python", "the same on "
                    "the C++, Go, Java, JavaScript and Rust exercises", outcome=attempt_1,
                    exclude_parts=frozenset({"python"})),
    DimensionMetric("debugging", "attempt-2 recovery", "share of exercises failed on attempt 1 "
                    "that attempt 2 fixes from the test output (the debugging gain, per "
                    "exercise that could gain)", outcome=recovery),
)


class AiderPolyglot(HarnessBenchmark):
    host_mounts: ClassVar[str | None] = HOST_MOUNTS
    requests_per_task = 2.0
    tokens_per_request = 600
    exec_s_per_task = 8.0
    metrics = ("pass@1 (= pass rate after attempt 2)", "pass rate after attempt 1 and 2 per "
               "language", "debugging gain", "well-formed edits")
    Options: ClassVar[type[BaseModel]] = AiderOptions
    main_option: ClassVar[str | None] = "edit_format"
    details_key: ClassVar[str | None] = "aider"
    # aider edits whole files: 768 tokens (EvalPlus's) cuts most answers short
    run_defaults: ClassVar[dict[str, Any]] = {"max_tokens": 4096}

    def __init__(self, languages: list[str], bench_id: str, title: str) -> None:
        self.languages = languages
        self.id = bench_id
        self.title = title
        self.nominal_tasks = sum(LANGUAGES[lang].count for lang in languages)
        self.dimensions = tuple(m.dimension for m in self.dimension_metrics())
        self.description = (
            f"Aider's polyglot benchmark ({', '.join(languages)}): aider edits each Exercism "
            "exercise's stub in its edit format, the exercise's tests judge it, and a failure "
            "gets one more attempt with the test output. Each exercise runs in its own "
            "container holding the toolchains; aider reaches the model only through "
            "benchdock's proxy.")
        self.cost = (f"{self.nominal_tasks} exercises, 1-2 attempts each, ~2-6k prompt "
                     "tokens per request, plus builds and tests")

    @property
    def version(self) -> str:
        return f"aider-chat {AIDER_VERSION}, polyglot-benchmark {REVISION[:12]}"

    @property
    def family(self) -> str:
        return "aider-polyglot"

    def part(self, task_id: str) -> str:
        return task_id.split("/", 1)[0]

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.languages)

    def dimension_metrics(self) -> tuple[DimensionMetric, ...]:
        return tuple(m for m in MAP if any(m.covers(lang) for lang in self.languages))

    def requirements(self) -> list[Requirement]:
        return [
            Requirement(kind="venv", name=f"aider-chat {AIDER_VERSION}",
                        how="benchdock setup aider (~700 MB)"),
            Requirement(kind="image", name=polyglot_image(self.settings), optional=True, how=(
                "benchdock build-image --harness aider-polyglot (the six toolchains; else "
                "the local sandbox runs the host's toolchains)")),
            Requirement(kind="dataset", name=f"polyglot-benchmark @ {REVISION[:12]}", how=(
                "downloaded once from GitHub, or BENCHDOCK_POLYGLOT_DIR=<a local copy>")),
        ]

    def images(self) -> list[ImageSpec]:
        return [ImageSpec(name="aider-polyglot", package="benchdock.harnesses.benchmarks.aider",
                          tag=polyglot_image(self.settings), expected=TOOLCHAINS,
                          what="the six languages' toolchains and test runners")]

    def setups(self) -> list[SetupStep]:
        from benchdock.harnesses.benchmarks.aider.environment import ensure_env

        def run(say: Callable[[str], None]) -> str:
            env = ensure_env(self.settings.envs_dir, say=say)
            return f"{env.root} (Python {env.python_version})"

        def data(say: Callable[[str], None]) -> str:
            say(f"downloading {ARCHIVE_URL}")
            return str(ensure_dataset(dataset_root(self.settings), self._overridden))

        return [SetupStep(name="aider", what=f"aider-chat {AIDER_VERSION}'s own venv", run=run,
                          installed=found_by(lambda: load_env(self.settings.envs_dir)),
                          download_mb=150, disk_mb=700, minutes=2),
                SetupStep(name="polyglot-data", what=(
                    f"Aider's polyglot exercises (GitHub, revision {REVISION[:12]})"), run=data,
                          installed=self._has_data, source=ARCHIVE_URL, download_mb=5,
                          disk_mb=40, minutes=0.5)]

    @property
    def _overridden(self) -> bool:
        return bool(self.settings.var("BENCHDOCK_POLYGLOT_DIR"))

    def _has_data(self) -> bool:
        root = dataset_root(self.settings)
        return any((root / lang / "exercises" / "practice").is_dir() for lang in LANGUAGES)

    def readiness(self) -> str | None:
        try:
            load_env(self.settings.envs_dir)
        except EnvironmentMissing as exc:
            return str(exc)
        if not self._has_data():
            root = dataset_root(self.settings)
            if self._overridden:
                return f"BENCHDOCK_POLYGLOT_DIR={root} holds no polyglot exercises"
            why = unreachable(ARCHIVE_URL)
            if why is not None:
                return (f"the polyglot exercises are not at {root} and cannot be downloaded "
                        f"({why}); set BENCHDOCK_POLYGLOT_DIR to a clone of "
                        f"polyglot-benchmark at {REVISION[:12]}")
        return host_mount_refusal(self)

    def exercises(self) -> list[Exercise]:
        root = dataset_root(self.settings)
        override = bool(self.settings.var("BENCHDOCK_POLYGLOT_DIR"))
        return load_exercises(ensure_dataset(root, override), self.languages)

    def tasks(self) -> list[Task]:
        return [Task(id=ex.id, prompt=ex.instructions(), entry_point="")
                for ex in self.exercises()]

    def first(self, ids: list[str], limit: int) -> list[str]:
        """The first N of each language, so a limited run still covers them all."""
        seen: dict[str, int] = {}
        out = []
        for i in ids:
            lang = i.split("/", 1)[0]
            seen[lang] = seen.get(lang, 0) + 1
            if seen[lang] <= limit:
                out.append(i)
        return out

    def dataset_hash(self) -> str:
        return tree_hash(self.exercises())

    def open_session(self, ctx: SessionContext) -> HarnessSession:
        from benchdock.harnesses.benchmarks.aider.session import AiderSession

        try:
            env = load_env(self.settings.envs_dir)
        except EnvironmentMissing as exc:
            raise DatasetUnavailable(str(exc)) from None
        wanted = set(ctx.run.task_ids)
        return AiderSession(env, ctx, {ex.id: ex for ex in self.exercises() if ex.id in wanted})

    async def configure(self, endpoint: EndpointConfig, model: str,
                        options: BaseModel) -> tuple[dict[str, Any], str | None]:
        """"auto" leaves the choice to aider, which picks the format it knows works for the
        model (`whole` for unknown models); the session records the one it used."""
        assert isinstance(options, AiderOptions)
        try:
            load_env(self.settings.envs_dir)
        except EnvironmentMissing as exc:
            raise BenchdockError(str(exc)) from None
        if options.edit_format == "auto":
            return {"edit_format": None}, "auto: aider's default for the model"
        return {"edit_format": options.edit_format}, f"{options.edit_format} as asked"

    def tables(self, details: dict[str, Any], options: dict[str, Any]) -> list[Table]:
        """Aider's figures per language: pass rate after each attempt, well-formed edits."""

        def row(name: str, v: dict[str, Any]) -> list[str]:
            p1, p2 = v["pass_rate_1"], v["pass_rate_2"]
            wf = v.get("well_formed")

            def rate(p: dict[str, Any]) -> str:
                return ("-" if p["rate"] is None else
                        f"{p['rate']:.3f} [{p['ci95'][0]:.2f}, {p['ci95'][1]:.2f}]")

            return [name, rate(p1), rate(p2), "-" if wf is None else f"{wf:.0%}",
                    str(v["errors"]), str(v["n"])]

        rows = [row(lang, v) for lang, v in (details.get("per_language") or {}).items()]
        if details.get("overall"):
            rows.append(row("all", details["overall"]))
        return [Table(title=f"Aider polyglot, edit format {details.get('edit_format')}",
                      headers=["language", "pass after try 1 [95% CI]",
                               "pass after try 2 [95% CI]", "well-formed", "errors", "n"],
                      rows=rows)]


def aider_benchmarks() -> dict[str, Any]:
    out: dict[str, Any] = {"aider-polyglot": lambda: AiderPolyglot(
        list(LANGUAGES), "aider-polyglot", "Aider polyglot: 225 exercises in six languages")}
    for lang in LANGUAGES:
        out[f"aider-polyglot-{lang}"] = (lambda lang=lang: AiderPolyglot(
            [lang], f"aider-polyglot-{lang}", f"Aider polyglot, {lang} exercises"))
    return out
