"""The ten capability dimensions of agentic coding, and how a benchmark says which of its
metrics measures which dimension.

The map is data: each benchmark declares `DimensionMetric` rows (see `BenchmarkBase.
dimension_metrics`), each turning one scored sample into an outcome in [0, 1] — or None when
the sample says nothing about that dimension (e.g. an exercise whose toolchain was missing).
The comparison code only reads these rows, so a new harness adds its own without touching it.

Dimensions that no benchdock benchmark measures yet still name the public benchmarks that
would (from the research note in `shared/reference`), so "not measured" is never a dead end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from benchdock.store.tables import Sample

Outcome = Callable[[Sample], float | None]


class DimensionInfo(BaseModel):
    id: str
    title: str
    what: str = Field(description="What the dimension is about")
    elsewhere: list[str] = Field(description=(
        "Public benchmarks that isolate it, including ones benchdock does not run yet"))


DIMENSION_INFO: dict[str, DimensionInfo] = {d.id: d for d in (
    DimensionInfo(id="generation", title="Code generation",
                  what="Writing correct code from a specification (pass@k on unit tests)",
                  elsewhere=["HumanEval+ / MBPP+", "BigCodeBench", "LiveCodeBench"]),
    DimensionInfo(id="editing", title="Code editing",
                  what="Changing existing code correctly in an edit format (diffs, search/replace)",
                  elsewhere=["Aider polyglot", "Diff-XYZ", "EDIT-Bench"]),
    DimensionInfo(id="tool_use", title="Tool use",
                  what="Choosing and calling functions with valid arguments; knowing when not to",
                  elsewhere=["BFCL v4", "tau-bench", "IFEval-FC"]),
    DimensionInfo(id="planning", title="Multi-step planning",
                  what="Keeping a plan across many dependent steps and adapting it",
                  elsewhere=["BFCL multi-turn", "SWE-bench Verified", "Terminal-Bench 2.0"]),
    DimensionInfo(id="debugging", title="Debugging / error recovery",
                  what="Fixing a failure from its error output",
                  elsewhere=["Aider polyglot (attempt 2)", "Terminal-Bench 2.0", "Recovery-Bench"]),
    DimensionInfo(id="repo_understanding", title="Repository understanding",
                  what="Navigating a codebase and using cross-file context",
                  elsewhere=["CrossCodeEval", "RepoBench", "SWE-bench Verified"]),
    DimensionInfo(id="instruction_following", title="Instruction following",
                  what="Meeting every verifiable constraint of an instruction",
                  elsewhere=["IFEval", "AgentIF"]),
    DimensionInfo(id="long_context", title="Long context",
                  what="Using information from anywhere in a long input",
                  elsewhere=["BFCL multi-turn long-context", "RULER", "LoCoBench"]),
    DimensionInfo(id="multi_language", title="Multi-language",
                  what="Working in languages other than Python",
                  elsewhere=["Aider polyglot (non-Python)", "Multi-SWE-bench", "HumanEval-X"]),
    DimensionInfo(id="test_generation", title="Test generation",
                  what="Writing meaningful tests that pass and catch bugs",
                  elsewhere=["TestEval", "ULT", "CoverUp"]),
)}
DIMENSIONS: tuple[str, ...] = tuple(DIMENSION_INFO)


def verdict_pass(sample: Sample) -> float | None:
    """The sample's headline verdict: 1 for pass, 0 for anything else."""
    return None if sample.verdict is None else float(sample.verdict == "pass")


@dataclass(frozen=True)
class DimensionMetric:
    """One row of the map: `metric` of this benchmark measures `dimension`.

    `parts` limits the row to some parts of the benchmark (BFCL categories, Aider languages);
    empty means every part.
    """

    dimension: str
    metric: str
    description: str
    outcome: Outcome = verdict_pass
    parts: frozenset[str] = field(default_factory=frozenset)
    exclude_parts: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.dimension not in DIMENSION_INFO:
            raise ValueError(f"unknown dimension {self.dimension!r}; valid: {', '.join(DIMENSIONS)}")

    def covers(self, part: str) -> bool:
        if part in self.exclude_parts:
            return False
        return not self.parts or part in self.parts

    def row(self) -> DimensionRow:
        return DimensionRow(dimension=self.dimension, metric=self.metric,
                            description=self.description, only=sorted(self.parts) or None,
                            excluding=sorted(self.exclude_parts) or None)


class DimensionRow(BaseModel):
    """How list_benchmarks shows one row of the map."""

    dimension: str
    metric: str
    description: str
    only: list[str] | None = Field(default=None, description="Only these parts of the benchmark")
    excluding: list[str] | None = Field(default=None,
                                        description="All parts of the benchmark but these")
