"""The public contract for benchmark plugins: import from here (a stable path).

Everything a plugin's declaration needs — `Benchmark` (benchdock asks the model and scores
the answer in the sandbox) or `HarnessBenchmark` (a reference harness asks and judges in a
session of its own) with `Task`, `Verdict` and the rest. The code lives in
`harnesses/contract/`; this module only names it, so that the layout inside may change
without breaking a plugin. `benchdock.harnesses.sandbox` (`Sandbox`, `ExecResult`) is the
other public path.
"""

from benchdock.harnesses.contract.benchmark import (
    DEFAULT_MAX_TOKENS,
    DIMENSIONS,
    Benchmark,
    BenchmarkBase,
    BenchmarkBrief,
    BenchmarkInfo,
    DatasetUnavailable,
    Footprint,
    ImageSpec,
    NoOptions,
    Requirement,
    SetupStep,
    Table,
    Task,
    Verdict,
    VerdictName,
)
from benchdock.harnesses.contract.delegated import (
    HarnessBenchmark,
    HarnessSession,
    SampleOutcome,
    SessionContext,
)
from benchdock.harnesses.contract.dimensions import DimensionMetric

__all__ = ["DEFAULT_MAX_TOKENS", "DIMENSIONS", "Benchmark", "BenchmarkBase", "BenchmarkBrief",
           "BenchmarkInfo", "DatasetUnavailable", "DimensionMetric", "Footprint",
           "HarnessBenchmark", "HarnessSession", "ImageSpec", "NoOptions", "Requirement",
           "SampleOutcome", "SessionContext", "SetupStep", "Table", "Task", "Verdict",
           "VerdictName"]
