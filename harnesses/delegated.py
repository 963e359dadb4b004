"""A stable path kept for plugins written against it: `HarnessBenchmark` and what a
session uses. New code imports the contract from `benchdock.harnesses.base` and the process
conversation from `benchdock.harnesses.sandbox.rpc`."""

from benchdock.harnesses.contract.delegated import (
    DelegatedBenchmark,
    HarnessBenchmark,
    HarnessSession,
    SampleOutcome,
    SessionContext,
)
from benchdock.harnesses.sandbox.rpc import HarnessExited, HarnessLost, RpcChannel, SupervisedRpc

__all__ = ["DelegatedBenchmark", "HarnessBenchmark", "HarnessExited", "HarnessLost",
           "HarnessSession", "RpcChannel", "SampleOutcome", "SessionContext", "SupervisedRpc"]
