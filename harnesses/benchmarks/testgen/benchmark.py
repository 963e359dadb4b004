"""`testgen-humaneval-plus`: test generation scored by mutation score, benchdock's construction.

No test-generation dataset ships here, so this mirrors the method of mutation-based test
benchmarks (TestGenEval's and TestEval's mutation score, CoverUp's coverage) on the real
HumanEval+ v0.1.10: the model sees a function's signature, docstring and reference
implementation and writes a pytest file. In the sandbox (`drivers/judge.py`):

- the suite is *valid* only if it passes on the reference (else the verdict is `fail`, with the
  first failing test as the reason);
- its *mutation score* is the share of the task's counted mutants it kills: mutants made by
  cosmic-ray's operators (`mutants.py`), counted only if HumanEval+'s own tests kill them;
  an invalid suite scores 0;
- beside it, line and branch coverage of the reference (coverage.py), while the suite ran.

The verdict is `pass` for a valid suite; the mutation score (the test_generation dimension)
and coverage are each sample's evidence and the run's own figures.
"""

from __future__ import annotations

import re
import threading
from functools import cached_property
from typing import Any, ClassVar

from benchdock.harnesses.benchmarks.testgen import mutants as mut
from benchdock.harnesses.benchmarks.testgen.plus_suite import render
from benchdock.harnesses.benchmarks.testgen.sandbox_run import SuiteRuns, testgen_files
from benchdock.harnesses.contract.benchmark import (
    Benchmark,
    ImageSpec,
    Requirement,
    SetupStep,
    Table,
    Task,
    Verdict,
)
from benchdock.harnesses.contract.dimensions import DimensionMetric
from benchdock.harnesses.contract.metrics import mean_interval
from benchdock.harnesses.datasets.evalplus import EvalPlusData
from benchdock.harnesses.sandbox import Sandbox
from benchdock.store.tables import Sample

IMAGE = "benchdock-testgen:1"
SYSTEM = "You are an expert Python developer who writes thorough pytest unit tests."
INSTRUCTION = (
    "Below is a Python function with its signature, docstring and reference implementation. "
    "Write a pytest test file that checks this function thoroughly: the tests must pass on "
    "this implementation and should fail on any implementation that behaves differently. "
    "Import the function with `from solution import {entry_point}`; do not copy its code "
    "into the tests. Answer with the test file in one markdown code block."
)
_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)```", re.S | re.I)


def mutation_score(sample: Sample) -> float | None:
    """A sample's mutation score: 0 for an invalid suite, for no tests, and for a suite that
    stopped the judge; None when the sandbox itself failed, or the task has no counted
    mutant (then the sample says nothing about test generation)."""
    if sample.verdict is None:
        return None
    extra = sample.extra or {}
    if not extra:
        detail = sample.detail or ""
        infra = detail.startswith(("the sandbox failed", "benchdock could not score"))
        return None if infra else 0.0
    if not extra.get("mutants_counted"):
        return None
    return float(extra.get("mutation_score") or 0.0)


def _names(prompt: str, entry_point: str) -> list[str]:
    """The functions tests may call: the entry point and the prompt's other top-level ones."""
    found = re.findall(r"^def ([A-Za-z_]\w*)\s*\(", prompt, re.M)
    return [entry_point, *[n for n in dict.fromkeys(found) if n != entry_point]]


def _pct(covered: Any, total: Any) -> float | None:
    if not isinstance(total, int) or not isinstance(covered, int) or total == 0:
        return None
    return covered / total


class TestgenHumanEvalPlus(Benchmark):
    __test__ = False  # (its name starts with "Test": not a pytest class)
    id = "testgen-humaneval-plus"
    title = "Test generation on HumanEval+ by mutation score (benchdock's construction)"
    description = (
        "benchdock's construction after TestGenEval/TestEval (mutation score) and CoverUp "
        "(coverage): for each of HumanEval+'s 164 functions the model sees the signature, "
        "docstring and reference implementation and writes pytest tests. A suite must pass on "
        "the reference (else invalid); it scores the share of cosmic-ray mutants of the "
        "reference it kills, counting only mutants HumanEval+'s own tests kill; line and branch "
        "coverage of the reference are reported beside it. All in the sandbox.")
    dimensions = ("test_generation",)
    metrics = ("pass@1 (valid suites)", "mutation score", "line coverage", "branch coverage")
    nominal_tasks = 164
    cost = ("164 requests, up to 168k generated tokens at max_tokens=1024; scoring ~1-2 min "
            "per task (pytest per mutant)")
    run_defaults: ClassVar[dict[str, Any]] = {"max_tokens": 1024}
    details_key: ClassVar[str | None] = "testgen"
    tokens_per_request = 500
    exec_s_per_task = 60.0

    def __init__(self) -> None:
        self._plus = EvalPlusData("humaneval")
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @property
    def version(self) -> str:
        return f"{self._plus.version} / {mut.mutator_version()} seed {mut.SEED}"

    def tasks(self) -> list[Task]:
        return self._plus.tasks()

    def dataset_hash(self) -> str:
        return self._plus.dataset_hash()

    # --- what it needs --------------------------------------------------------------------

    def sandbox_tag(self) -> str:
        return IMAGE

    def images(self) -> list[ImageSpec]:
        return [ImageSpec(name=self.id, package="benchdock.harnesses.benchmarks.testgen", tag=IMAGE,
                          what="the sandbox image plus pytest and coverage")]

    def setups(self) -> list[SetupStep]:
        return [SetupStep(name="humaneval-plus-data", what=(
            f"{self._plus.label}'s tests, EvalPlus's release on GitHub (into EvalPlus's cache)"),
            run=self._plus.download, installed=self._plus.present,
            source=self._plus.release()[0], download_mb=0.9,
            disk_mb=7, minutes=0.2)]

    def requirements(self) -> list[Requirement]:
        return [Requirement(kind="image", name=IMAGE, optional=True, how=(
            "benchdock build-image --harness testgen-humaneval-plus (after benchdock "
            "build-image); else the local sandbox, whose Python needs pytest and coverage"))]

    def readiness(self) -> str | None:
        try:
            import cosmic_ray  # noqa: F401
        except ImportError:
            return "cosmic-ray is not installed: pip install 'cosmic-ray==8.7.0'"
        data = self._plus.missing()  # it writes tests for HumanEval+'s functions
        if data is not None:
            return data
        from benchdock.harnesses.sandbox import docker_available

        if self.settings.sandbox != "local" and docker_available(IMAGE)[0]:
            return None
        import importlib.util

        missing = [m for m in ("pytest", "coverage") if importlib.util.find_spec(m) is None]
        if missing or self.settings.sandbox == "docker":
            return (f"no {IMAGE} image (benchdock build-image --harness "
                    f"testgen-humaneval-plus)" + (
                        f", and the local sandbox's Python lacks {', '.join(missing)}"
                        if missing else ""))
        return None

    # --- asking -----------------------------------------------------------------------------

    def messages(self, task: Task) -> list[dict[str, str]]:
        code = task.prompt + task.data["canonical_solution"]
        text = (INSTRUCTION.format(entry_point=task.entry_point)
                + f"\n```python\n{code.strip()}\n```")
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]

    def extract(self, task: Task, completion: str) -> str:
        """The test file: the code block defining tests (else the first, else the text)."""
        blocks = _FENCE.findall(completion)
        for b in blocks:
            if re.search(r"^\s*def test", b, re.M):
                return str(b)
        if blocks:
            return str(blocks[0])
        return completion if re.search(r"^\s*def test", completion, re.M) else ""

    def reference(self, task: Task) -> str:
        """HumanEval+'s own tests as a pytest file: scores 1.0 by construction."""
        return f"```python\n{self.plus_tests(task)}```"

    def plus_tests(self, task: Task) -> str:
        exp = self._plus.expected_outputs()[task.id]
        return render(task.entry_point, task.data["atol"],
                      {n: (task.data[f"{n}_input"], exp[n]) for n in ("base", "plus")})

    # --- scoring ----------------------------------------------------------------------------

    def prepare(self, sandbox: Sandbox, tasks: list[Task]) -> None:
        from benchdock.harnesses.pyjudge.host import ensure_lib

        ensure_lib(sandbox, "testgen+pyjudge", testgen_files())

    def mutants(self, task: Task, sandbox: Sandbox) -> dict[str, Any]:
        """The task's mutants and which count (built in the sandbox once, then cached)."""
        with self._guard:
            lock = self._locks.setdefault(task.id, threading.Lock())
        with lock:
            return mut.counted_mutants(
                SuiteRuns(sandbox), self.settings.home, self.dataset_hash(), task.id,
                task.prompt, task.data["canonical_solution"], task.entry_point,
                _names(task.prompt, task.entry_point), self.plus_tests(task))

    @cached_property
    def _reference_code(self) -> dict[str, str]:
        return {t.id: t.prompt + t.data["canonical_solution"] for t in self.tasks()}

    def score(self, task: Task, code: str, sandbox: Sandbox) -> Verdict:
        if not code.strip():
            return Verdict(verdict="error", detail="no test code found in the answer")
        built = self.mutants(task, sandbox)
        counted = [m for m in built["mutants"] if m["counted"]]
        out = SuiteRuns(sandbox).judge(self._reference_code[task.id], counted, code,
                                       _names(task.prompt, task.entry_point))
        if out.problem is not None:
            return Verdict(verdict="error", detail=out.problem, exec_s=out.exec_s)
        ref = out.reference
        cov = ref.get("coverage") or {}
        extra: dict[str, Any] = {
            "valid": bool(ref.get("passed")), "reference_run": ref.get("how"),
            "tests_passed": ref.get("tests_passed"),
            "line_coverage": _pct(cov.get("covered_lines"), cov.get("num_statements")),
            "branch_coverage": _pct(cov.get("covered_branches"), cov.get("num_branches")),
            "coverage": cov, "mutants_generated": built["generated"],
            "mutants_counted": len(counted), "mutator": built["mutator"],
        }
        if not ref.get("passed"):
            extra.update(mutation_score=0.0, killed=[], survived=[])
            return Verdict(verdict="fail", detail=f"invalid suite: it fails on the reference: "
                           f"{ref.get('how')}", exec_s=out.exec_s, extra=extra)
        killed, survived = [], []
        for m in counted:
            run = out.mutants.get(m["id"], {})
            item = {"id": m["id"], "operator": m["operator"], "line": m["line"],
                    "change": m["change"]}
            if run.get("passed", True):
                survived.append(item)
            else:
                killed.append({**item, "how": str(run.get("how"))[:300]})
        score = len(killed) / len(counted) if counted else 0.0
        extra.update(mutation_score=score, killed=killed, survived=survived)
        lc, bc = extra["line_coverage"], extra["branch_coverage"]
        detail = (f"valid suite ({ref.get('tests_passed')} tests); killed {len(killed)}/"
                  f"{len(counted)} counted mutants (mutation score {score:.2f})"
                  + (f"; line coverage {lc:.0%}" if lc is not None else "")
                  + (f", branch coverage {bc:.0%}" if bc is not None else ""))
        return Verdict(verdict="pass", detail=detail, exec_s=out.exec_s, extra=extra)

    # --- its figures --------------------------------------------------------------------------

    def dimension_metrics(self) -> tuple[DimensionMetric, ...]:
        return (DimensionMetric("test_generation", "mutation score", (
            "share of counted mutants of the reference the model's suite kills (0 when the "
            "suite fails on the reference)"), outcome=mutation_score),)

    def summarise(self, samples: list[Any]) -> dict[str, Any]:
        scored = [s for s in samples if s.verdict is not None]
        scores = [v for v in (mutation_score(s) for s in scored) if v is not None]

        def figure(values: list[float]) -> dict[str, Any] | None:
            if not values:
                return None
            lo, hi = mean_interval(values)
            return {"value": sum(values) / len(values), "ci95": [lo, hi], "n": len(values)}
        valid = [s for s in scored if (s.extra or {}).get("valid")]
        lines = [float(s.extra["line_coverage"]) for s in valid
                 if s.extra and s.extra.get("line_coverage") is not None]
        branches = [float(s.extra["branch_coverage"]) for s in valid
                    if s.extra and s.extra.get("branch_coverage") is not None]
        return {"mutation_score": figure(scores), "line_coverage": figure(lines),
                "branch_coverage": figure(branches), "valid": len(valid), "scored": len(scored),
                "mutants_counted": sum(int((s.extra or {}).get("mutants_counted") or 0)
                                       for s in scored)}

    def tables(self, details: dict[str, Any], options: dict[str, Any]) -> list[Table]:
        rows = []
        for key, label in (("mutation_score", "mutation score"),
                           ("line_coverage", "line coverage (valid suites)"),
                           ("branch_coverage", "branch coverage (valid suites)")):
            f = details.get(key)
            if f:
                rows.append([label, f"{f['value']:.3f}", f"[{f['ci95'][0]:.3f}, "
                             f"{f['ci95'][1]:.3f}]", str(f["n"])])
        return [Table(title="Test generation (mutation score)",
                      headers=["figure", "value", "95% CI", "n"], rows=rows,
                      note=(f"{details.get('valid')}/{details.get('scored')} suites valid; "
                            f"{details.get('mutants_counted')} counted mutants in all"))]
