"""`repoqa-*`: RepoQA's Searching Needle Function task (EvalPlus team; PyPI `repoqa` 0.1.2):
find, in a long context of real repository code, the function a description describes, and
repeat it; scored by RepoQA's matcher (the answer's first function against every needle of
the repository by BLEU; a pass is the needle asked for being the best match, at
similarity >= 0.8).

One benchmark per context length (4k, 8k, 16k, 32k tokens) and data source:
`repoqa-<length>` on RepoQA's own data where it is here (`official.py`) and else, as the
offline default, on benchdock's local construction (`local.py`), which
`repoqa-local-<length>` always uses. Task ids and the version string say which data a run
used. All are one family, `repoqa`; the part (`4k`, `local-16k`, ...) is the length and the
data, so 4k and 8k feed
repository understanding and 16k and 32k long context. A length is refused when queued if
the model's context window (as `list_models` reports it) is below RepoQA's 1.25 x the
context size (RepoQA's own `max_model_len` for vLLM).
"""

from __future__ import annotations

import ast
import textwrap
from functools import cached_property
from typing import Any, ClassVar

from pydantic import BaseModel

from benchdock.harnesses.benchmarks.repoqa import local, matcher, official
from benchdock.harnesses.benchmarks.repoqa.context import (
    make_code_context,
    prompt,
    topological_sort,
)
from benchdock.harnesses.benchmarks.repoqa.reference import REPOQA_VERSION
from benchdock.harnesses.config import EndpointConfig
from benchdock.harnesses.contract.benchmark import (
    Benchmark,
    BenchmarkBrief,
    DatasetUnavailable,
    Requirement,
    SetupStep,
    Task,
    Verdict,
    found_by,
)
from benchdock.harnesses.contract.dimensions import DimensionMetric
from benchdock.harnesses.errors import BenchdockError
from benchdock.harnesses.sandbox import Sandbox

LENGTHS = {"4k": 4096, "8k": 8192, "16k": 16384, "32k": 32768}
MODERATE = ("4k", "8k")  # repository understanding
LONG = ("16k", "32k")  # long context
THRESHOLD = 0.8  # "by default 0.8": RepoQA 0.1.2 README (its scorer reports 0.0-1.0)
HEADROOM = 1.25  # RepoQA: max_model_len = int(code_context_size * 1.25)
MAX_NEW_TOKENS = 1024  # RepoQA's max_new_tokens
# tasks of the local set per length with the packages benchdock pins (a listing figure: the
# run counts what the installed versions give)
LOCAL_TASKS = {"4k": 49, "8k": 49, "16k": 46, "32k": 38}
MIN_FILL = 0.9  # local set: a needle whose packed context falls short of this is left out


def _rows() -> tuple[DimensionMetric, ...]:
    def parts(names: tuple[str, ...]) -> frozenset[str]:
        return frozenset([*names, *(f"local-{n}" for n in names)])

    return (
        DimensionMetric("repo_understanding", "pass@1", (
            "RepoQA needle function found (its matcher: best match, BLEU >= 0.8) in 4k or 8k "
            "tokens of repository code"), parts=parts(MODERATE)),
        DimensionMetric("long_context", "pass@1", (
            "RepoQA needle function found (its matcher: best match, BLEU >= 0.8) in 16k or "
            "32k tokens of repository code"), parts=parts(LONG)),
    )


class RepoQA(Benchmark):
    metrics = ("pass@1",)
    run_defaults: ClassVar[dict[str, Any]] = {"max_tokens": MAX_NEW_TOKENS}
    tokens_per_request = 300

    def __init__(self, length: str, local_only: bool) -> None:
        self.length, self.local_only = length, local_only
        self.size = LENGTHS[length]
        self.id = f"repoqa-{'local-' if local_only else ''}{length}"
        source = ("benchdock's local construction" if local_only else
                  "RepoQA's data (2024-04-20), else the local one")
        self.title = f"RepoQA needle-function search, {length} tokens, {source}"
        self.description = (
            f"Find, in {self.size} tokens of real Python repository code, the function a "
            "description describes and repeat it; scored by RepoQA's matcher (the answer's "
            "function must best match the needle, BLEU >= 0.8). "
            + ("" if local_only else "RepoQA's own data, Python part (100 needles in 10 "
               "repositories), when it is here (REPOQA_DATA_OVERRIDE_PATH or `benchdock setup "
               "repoqa-data`); else ")
            + "the local construction (offline): 5 permissively licensed packages installed "
            "with benchdock, descriptions from the needles' docstrings with the name removed "
            "(the docstring is removed from the context).")
        self.dimensions = ("repo_understanding",) if length in MODERATE else ("long_context",)
        self.nominal_tasks = LOCAL_TASKS[length] if self.offline else 100
        self.cost = (f"{self.nominal_tasks} requests of ~{int(self.size * 1.1)} prompt tokens, "
                     f"up to {MAX_NEW_TOKENS} generated")

    @property
    def offline(self) -> bool:
        """Whether this run uses the local construction (always, or for want of RepoQA's)."""
        return self.local_only or official.data_path() is None

    @property
    def prefix(self) -> str:
        return f"local-{self.length}" if self.offline else self.length

    @property
    def family(self) -> str:
        return "repoqa"

    def part(self, task_id: str) -> str:
        return task_id.split("/", 1)[0]

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.prefix,)

    def dimension_metrics(self) -> tuple[DimensionMetric, ...]:
        return tuple(m for m in _rows() if m.covers(self.prefix))

    def brief(self) -> BenchmarkBrief:
        """list_benchmarks shows the family on one line: with both of its dimensions (4k and
        8k measure repository understanding, 16k and 32k long context)."""
        out = super().brief()
        out.dimensions = ["repo_understanding", "long_context"]
        return out

    @property
    def version(self) -> str:
        where = (local.provenance() if self.offline else
                 f"RepoQA data {official.VERSION} (Python)")
        return (f"{where}; context {self.size} tokens (benchdock's proxy count); RepoQA "
                f"{REPOQA_VERSION} prompt and matcher (ported), threshold {THRESHOLD}")

    # --- data -------------------------------------------------------------------------------

    def _dataset(self) -> tuple[dict[str, list[dict[str, Any]]], str]:
        if self.offline:
            data = local.build()
            return data, local.data_hash(data)
        try:
            return official.load()
        except (FileNotFoundError, ValueError) as exc:
            raise DatasetUnavailable(f"{exc}; {self._how()}") from None

    @staticmethod
    def _how() -> str:
        return ("set REPOQA_DATA_OVERRIDE_PATH to a copy of repoqa-2024-04-20.json or run "
                "`benchdock setup repoqa-data` (downloads RepoQA's release from GitHub); "
                "without it, benchdock's local construction is used")

    @cached_property
    def _tasks(self) -> list[Task]:
        data, _ = self._dataset()
        out: list[Task] = []
        for repo in data["python"]:
            if "needles" not in repo:
                continue
            order = topological_sort(repo["dependency"])
            files = [(p, repo["content"][p]) for p in order]
            needles = repo["needles"]
            paths = {n["path"] for n in needles}
            slim = {"content": {p: repo["content"][p] for p in paths}, "needles": needles}
            for i, needle in enumerate(needles):
                ratio = (i + 0.5) / len(needles)
                ctx = make_code_context(needle, files, ratio, self.size)
                if self.offline and ctx["code_context_ntokens"] < MIN_FILL * self.size:
                    continue  # the small local repository cannot surround this needle
                out.append(Task(
                    id=f"{self.prefix}/{repo['repo']}::{needle['name']}",
                    prompt=prompt(ctx["code_context"], needle["description"]),
                    entry_point=needle["name"],
                    data={"repo": slim, "needle": needle, "position_ratio": ratio,
                          "description": needle["description"].strip(), **ctx}))
        return out

    def tasks(self) -> list[Task]:
        return list(self._tasks)

    def dataset_hash(self) -> str:
        return f"{self._dataset()[1]}-{self.size}"

    # --- needs ------------------------------------------------------------------------------

    def requirements(self) -> list[Requirement]:
        needs = super().requirements()
        if not self.local_only:
            needs.append(Requirement(kind="dataset", name=f"repoqa-{official.VERSION}.json",
                                     how=self._how(), optional=True))
        return needs

    def readiness(self) -> str | None:
        """Always ready: without RepoQA's data, the local construction is used."""
        return None

    def setups(self) -> list[SetupStep]:
        from benchdock.harnesses.benchmarks.repoqa import reference
        from benchdock.harnesses.envs import managed as envs

        def scorer(say: Any) -> str:
            env = envs.ensure(self.settings.envs_dir, reference.spec(), say)
            return f"{env.root} (Python {env.python_version})"

        return [SetupStep(name="repoqa", what=f"RepoQA {REPOQA_VERSION}'s own scorer, in a "
                          "venv (to check benchdock's port against it)", run=scorer,
                          installed=found_by(lambda: envs.load(self.settings.envs_dir,
                                                               reference.spec())),
                          download_mb=100, disk_mb=415, minutes=2),
                SetupStep(name="repoqa-data", what=f"RepoQA's data ({official.VERSION}, "
                          "downloaded from GitHub)", run=official.download,
                          installed=lambda: official.data_path() is not None,
                          source=official.URL,
                          download_mb=30, disk_mb=130, minutes=1)]

    async def configure(self, endpoint: EndpointConfig, model: str,
                        options: BaseModel) -> tuple[dict[str, Any], str | None]:
        """Refuse a length the model's context window cannot hold (RepoQA's 1.25 x)."""
        from benchdock.harnesses.client.endpoints import probe

        status = await probe(endpoint)
        window = next((m.context_size for m in status.models if m.id == model), None)
        need = int(self.size * HEADROOM)
        if window is None:
            return {}, (f"context {self.size} tokens; the server does not report {model}'s "
                        f"context window, so it was not checked (RepoQA asks for {need})")
        if window < need:
            fits = [f"repoqa-{'local-' if self.local_only else ''}{k}" for k, v in LENGTHS.items()
                    if int(v * HEADROOM) <= window]
            raise BenchdockError(
                f"{self.id} needs a context window of {need} tokens (RepoQA's 1.25 x "
                f"{self.size}); {model} has {window}. Lengths that fit: "
                f"{', '.join(fits) or 'none'}")
        return {}, f"context {self.size} tokens; {model}'s window is {window} (needs {need})"

    # --- asking and judging -----------------------------------------------------------------

    def messages(self, task: Task) -> list[dict[str, str]]:
        """RepoQA's request: the prompt as one user message, no system message."""
        return [{"role": "user", "content": task.prompt}]

    def extract(self, task: Task, completion: str) -> str:
        """RepoQA's `sanitize_output`: the answer's first function (or block, or the text)."""
        return matcher.sanitize_output(completion)

    def reference(self, task: Task) -> str:
        code = matcher.needle_code(task.data["repo"]["content"], task.data["needle"])
        return f"```python\n{code}\n```"

    def score(self, task: Task, code: str, sandbox: Sandbox) -> Verdict:
        """RepoQA's `needle_evaluator` (the answer is text here: nothing is executed)."""
        m = matcher.needle_evaluator(code, task.entry_point, task.data["repo"])
        said = (f"needle {task.entry_point}; best match {m.best_target or 'none'} at BLEU "
                f"{m.similarity:.3f} (a pass: the needle, at >= {THRESHOLD}); description: "
                f"{_short(task.data['description'])}")
        if m.passes(THRESHOLD):
            return Verdict(verdict="pass", detail=said)
        problem = _not_python(code)
        if problem:  # a failing answer that is not even Python: an error, scored 0 as in RepoQA
            return Verdict(verdict="error", detail=f"the answer holds no valid Python function "
                           f"({problem}); {said}")
        return Verdict(verdict="fail", detail=said)


def _short(text: str, n: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[:n] + "..."


def _not_python(code: str) -> str | None:
    try:
        ast.parse(textwrap.dedent(code))
    except SyntaxError as exc:
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    except ValueError as exc:  # e.g. null bytes
        return f"{type(exc).__name__}: {exc}"
    return None


def repoqa_benchmarks() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for local_only in (False, True):
        for length in LENGTHS:
            bench_id = f"repoqa-{'local-' if local_only else ''}{length}"
            out[bench_id] = lambda length=length, local_only=local_only: RepoQA(length, local_only)
    return out
