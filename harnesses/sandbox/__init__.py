"""Where the model's code runs: a Docker container, or (less isolated) a local subprocess.

Both backends speak to the same stdlib-only runner (`runner.py`), so they behave alike and
one conformance suite tests both. "The sandbox could not run" is `SandboxError` (a run
error); "the model's code failed" is an `ExecResult` with a non-zero exit (a sample verdict).
"""

from benchdock.harnesses.sandbox.base import ExecResult, Sandbox, SandboxError
from benchdock.harnesses.sandbox.factory import docker_available, open_sandbox
from benchdock.harnesses.sandbox.remote import refuse_remote_engine, remote_engine

__all__ = ["ExecResult", "Sandbox", "SandboxError", "docker_available", "open_sandbox",
           "refuse_remote_engine", "remote_engine"]
