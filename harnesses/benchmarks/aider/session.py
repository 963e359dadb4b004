"""An aider polyglot run's live harness: one throw-away container per exercise.

Each container starts from the polyglot image (the toolchains), with aider's venv and the
interpreter that built it mounted read-only, no network, a non-root user, a read-only root
with a tmpfs for the exercise, and CPU, memory, PID and time limits. Its only way out is
the recording proxy's unix socket (mounted in), so it reaches the model endpoint and
nothing else. With the local sandbox the driver runs as a plain subprocess (no isolation).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from typing import Any

import anyio

from benchdock.harnesses.benchmarks.aider.benchmark import HOST_MOUNTS
from benchdock.harnesses.benchmarks.aider.exercises import LANGUAGES, Exercise, polyglot_image
from benchdock.harnesses.contract.benchmark import Task, VerdictName
from benchdock.harnesses.contract.delegated import HarnessSession, SampleOutcome, SessionContext
from benchdock.harnesses.contract.metrics import wilson
from benchdock.harnesses.contract.registry import remote_capable
from benchdock.harnesses.envs.driver_source import RELAY, inline
from benchdock.harnesses.envs.managed import ManagedEnv, container_mounts
from benchdock.harnesses.sandbox.base import Channel, SandboxError
from benchdock.harnesses.sandbox.factory import docker_available
from benchdock.harnesses.sandbox.remote import refuse_remote_engine
from benchdock.store.tables import Sample

HARNESS = "aider-polyglot"

log = logging.getLogger("benchdock.aider")

# the driver and what it shares with benchdock (the test-report reader, the relay), as one program
DRIVER_SOURCE = inline("benchdock.harnesses.benchmarks.aider.drivers", "agent.py", {
    "from benchdock.harnesses.benchmarks.aider.drivers.testrun import run_tests  # inlined by the session\n":
        ("benchdock.harnesses.benchmarks.aider.drivers", "testrun.py"), **RELAY})
IN_CONTAINER = {"python": "/opt/bdpy", "env": "/opt/bdenv", "proxy": "/opt/bdproxy"}
TRIES = 2  # Aider's benchmark: the instructions, then once more with the test output
TEST_TIMEOUT_S = 180.0  # Aider's benchmark: 3 minutes per test run
LIMITS = {"memory": "3g", "cpus": 2.0, "pids": 1024, "tmpfs": "4g"}
OUTPUT_KEPT = 4000  # characters of each attempt's test output kept in the store
COMMON_ENV = {
    "HOME": "/tmp", "PYTHONUNBUFFERED": "1", "PYTHONNOUSERSITE": "1", "TERM": "dumb",
    # aider keeps the files it edits in a set: a fixed hash seed keeps their order in the
    # prompt, so the same exercise sends the same requests and the cache can answer them
    "PYTHONHASHSEED": "0",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # litellm fetches a price list at start otherwise
    "GIT_PYTHON_REFRESH": "quiet",  # aider imports GitPython; runs use no git
    "OPENAI_API_KEY": "unused-benchdock-proxy",
    "GOCACHE": "/tmp/.cache/go-build", "GOPATH": "/tmp/go", "GOPROXY": "off",
    "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "CARGO_HOME": "/tmp/.cargo",
    "CARGO_NET_OFFLINE": "true", "npm_config_cache": "/tmp/.npm",
    "GRADLE_USER_HOME": "/opt/gradle-home",
}


class AiderSession(HarnessSession):
    def __init__(self, env: ManagedEnv, ctx: SessionContext, exercises: dict[str, Exercise]) -> None:
        self.env = env
        self.ctx = ctx
        self.exercises = exercises
        self.edit_format = (ctx.run.params.get("options") or {}).get("edit_format") or None
        self.image = polyglot_image(ctx.settings)
        # two answers from the model (aider may ask more than once per attempt) and two test runs
        self.timeout_s = TRIES * (3 * ctx.settings.request_timeout_s + TEST_TIMEOUT_S) + 120
        self._live: set[Channel] = set()
        self._lock = threading.Lock()
        self.closed = False
        mode = ctx.settings.sandbox
        refuse_remote_engine(HARNESS, HOST_MOUNTS, mode, remote_capable())
        ok, why = docker_available(self.image)
        if mode == "auto":
            mode = "docker" if ok else "local"
            if not ok:
                log.warning("aider-polyglot runs the model's code as a local subprocess, NOT "
                            "isolated: %s. Build the image: benchdock build-image --harness "
                            "aider-polyglot", why)
        elif mode == "docker" and not ok:
            raise SandboxError(f"the polyglot image is not usable: {why}. Build it with "
                               "`benchdock build-image --harness aider-polyglot`")
        self.sandbox_kind = mode
        if mode == "docker":
            lim = LIMITS
            self.isolation = (f"docker ({self.image}), one container per exercise: no network, "
                              f"read-only root, user 65534, no capabilities, {lim['memory']} "
                              f"memory, {lim['cpus']} CPUs, {lim['pids']} processes")
            self.private_tmp = True
        else:
            from benchdock.harnesses.sandbox.local import local_isolation

            self.private_tmp, self.isolation = local_isolation()

    def _open(self, workdir: str) -> Channel:
        sock = self.ctx.proxy_socket
        if self.sandbox_kind == "docker":
            from benchdock.harnesses.sandbox.docker_backend import open_container_channel

            volumes, site = container_mounts(self.env, IN_CONTAINER["python"], IN_CONTAINER["env"])
            volumes[str(sock.parent)] = {"bind": IN_CONTAINER["proxy"], "mode": "rw"}
            environment = {**COMMON_ENV, "LD_LIBRARY_PATH": IN_CONTAINER["python"] + "/lib",
                           "BENCHDOCK_AIDER_SITE": site}
            # -S: aider's venv only, never the host interpreter's own site-packages
            argv = [IN_CONTAINER["python"] + "/bin/python3", "-S", "-u", "-c", DRIVER_SOURCE]
            return open_container_channel(self.image, argv, volumes, environment, **LIMITS)  # type: ignore[arg-type]
        from benchdock.harnesses.sandbox.local import open_process_channel

        environment = {**COMMON_ENV, "HOME": workdir, "GOCACHE": f"{workdir}/.gocache",
                       "GOPATH": f"{workdir}/go", "CARGO_HOME": f"{workdir}/.cargo",
                       "npm_config_cache": f"{workdir}/.npm"}
        readable = [str(self.env.root), str(self.env.base_prefix)]
        tool_dirs, tool_env = toolchain_paths()
        environment.update(tool_env)
        return open_process_channel(
            [str(self.env.python), "-u", "-c", DRIVER_SOURCE], environment,
            writable=[str(sock.parent)], readable=readable + tool_dirs,
            tmpfs_bytes=_bytes(str(LIMITS["tmpfs"])))

    def _init(self, ex: Exercise, tag: str, workdir: str) -> dict[str, Any]:
        lang = LANGUAGES[ex.language]
        proxy = (f"{IN_CONTAINER['proxy']}/{self.ctx.proxy_socket.name}"
                 if self.sandbox_kind == "docker" else str(self.ctx.proxy_socket))
        params = self.ctx.run.params
        extra_params = {k: params[k] for k in ("temperature", "top_p", "seed", "max_tokens") if
                        params.get(k) is not None}
        return {
            "name": ex.name, "language": ex.language, "workdir": workdir, "tag": tag,
            "files": {k: base64.b64encode(v).decode() for k, v in ex.workspace_files().items()},
            "solution": ex.solution, "tests": ex.tests, "instructions": ex.instructions(),
            "tools": lang.tools, "test_command": lang.test_command, "report": lang.report,
            "test_env": lang.test_env, "expected_tests": ex.expected_tests(),
            "test_timeout_s": TEST_TIMEOUT_S, "tries": TRIES, "model": self.ctx.run.model,
            "edit_format": self.edit_format, "extra_params": extra_params, "proxy_socket": proxy,
        }

    def _solve_blocking(self, ex: Exercise, tag: str) -> dict[str, Any]:
        # in a container or under bubblewrap the exercise lives in the sandbox's own tmpfs;
        # an unisolated subprocess gets a directory of its own, removed afterwards
        workdir = "/tmp/ex" if self.private_tmp else tempfile.mkdtemp(prefix="bdaider-")
        channel = self._open(workdir)
        with self._lock:
            if self.closed:
                channel.close()
                raise SandboxError("the run was stopped")
            self._live.add(channel)
        deadline = time.monotonic() + self.timeout_s
        nonce = secrets.token_hex(16)
        try:
            init = {**self._init(ex, tag, workdir), "nonce": nonce}
            channel.send((json.dumps(init) + "\n").encode())
            while True:
                msg = channel.read(max(1.0, deadline - time.monotonic()))
                result = msg.get("result")
                if isinstance(result, dict):
                    if not secrets.compare_digest(str(msg.get("nonce", "")), nonce):
                        return {"status": "crashed", "reason": (
                            "a result without the session's nonce reached the protocol: "
                            "something other than the driver wrote it")}
                    return result
                log.debug("%s: %s", ex.id, msg)
        except TimeoutError:
            return {"status": "timeout", "reason": (
                f"{ex.id} did not finish within {self.timeout_s:.0f}s (two attempts with their "
                "generations and test runs); its container was removed")}
        except SandboxError as exc:
            if self.closed:
                raise
            return {"status": "crashed", "reason": f"aider's process exited without a result ({exc})"}
        except ValueError as exc:
            return {"status": "crashed", "reason": f"aider's process wrote something unreadable ({exc})"}
        finally:
            with self._lock:
                self._live.discard(channel)
            channel.close()
            if not self.private_tmp:  # a container's or bubblewrap's tmpfs goes by itself
                shutil.rmtree(workdir, ignore_errors=True)

    async def solve(self, task: Task, tag: str) -> SampleOutcome:
        ex = self.exercises[task.id]
        result = await anyio.to_thread.run_sync(self._solve_blocking, ex, tag,
                                                abandon_on_cancel=True)
        return outcome(ex, result)

    async def summarise(self, samples: list[Sample]) -> dict[str, Any]:
        return summary(samples, self.edit_format)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            live, self._live = list(self._live), set()
        for ch in live:
            ch.close()


def outcome(ex: Exercise, r: dict[str, Any]) -> SampleOutcome:
    """One exercise's result from the driver as a verdict with its evidence."""
    extra: dict[str, Any] = {"language": ex.language, "status": r.get("status"),
                             "driver_undumpable": r.get("undumpable")}
    status = r.get("status")
    if status != "done":
        if r.get("traceback"):
            extra["traceback"] = r["traceback"]
        verdict: VerdictName = "timeout" if status == "timeout" else "error"
        label = {"toolchain_missing": "toolchain missing", "crashed": "aider crashed",
                 "unjudgeable": "no tests to judge with"}.get(str(status), str(status))
        return SampleOutcome(completion="", verdict=verdict, detail=f"{label}: {r.get('reason')}",
                             extra=extra)
    outcomes = [bool(x) for x in r.get("tests_outcomes", [])]
    attempts = r.get("attempts", [])
    keys = ("edit_format", "num_malformed_responses", "num_exhausted_context_windows",
            "num_error_outputs", "num_user_asks", "syntax_errors", "indentation_errors",
            "test_timeouts", "lazy_comments", "duration", "prompt_tokens", "completion_tokens",
            "startup_s", "first_test_s")
    extra.update({k: r.get(k) for k in keys}, tests_outcomes=outcomes,
                 passed_on=next((i + 1 for i, ok in enumerate(outcomes) if ok), None),
                 attempts=[{**{k: v for k, v in a.items() if k != "response"},
                            "test_output": str(a.get("test_output", ""))[-OUTPUT_KEPT:]}
                           for a in attempts])
    completion = "\n\n".join(f"--- attempt {a['attempt']} ---\n{a.get('response', '')}"
                             for a in attempts)
    code = "\n\n".join(f"# {name}\n{text}" for name, text in r.get("final_files", {}).items())
    reports = [a.get("report") or {} for a in attempts]
    # a pass is the runner's report saying so (testrun.judge), never an exit status alone
    if any(ok and rep.get("verdict") == "pass" for ok, rep in zip(outcomes, reports, strict=False)):
        rep = reports[extra["passed_on"] - 1]
        return SampleOutcome(completion=completion, code=code, verdict="pass", extra=extra,
                             detail=(f"tests pass after attempt {extra['passed_on']}: "
                                     f"{rep.get('runner')} reports all {rep.get('expected')} of "
                                     "the exercise's tests passed"))
    last = attempts[-1] if attempts else {}
    tail = "\n".join(str(last.get("test_output", "")).strip().splitlines()[-6:])
    why = f"tests fail after {len(outcomes)} attempt(s)"
    if reports and reports[-1].get("reason"):
        why += f" ({reports[-1]['reason']})"
    if r.get("num_malformed_responses"):
        why += f"; {r['num_malformed_responses']} malformed edit(s)"
    if last.get("timed_out"):
        why += "; the tests timed out"
    return SampleOutcome(completion=completion, code=code, verdict="fail", extra=extra,
                         detail=f"{why}: {tail}" if tail else why)


def _rate(flags: list[bool]) -> dict[str, Any]:
    lo, hi = wilson(sum(flags), len(flags))
    return {"rate": sum(flags) / len(flags) if flags else None, "ci95": [lo, hi],
            "n": len(flags), "passed": sum(flags)}


def summary(samples: list[Sample], edit_format: str | None) -> dict[str, Any]:
    """Aider's figures: pass rate after attempt 1 and after attempt 2 (with intervals), the
    share of exercises whose every edit was well formed, per language and overall. An
    exercise that could not run (toolchain missing, aider crashed) counts as not passed and
    is counted under `errors`."""
    by_lang: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        if s.verdict is not None:
            by_lang[(s.extra or {}).get("language") or s.task_id.split("/")[0]].append(s)

    def figures(group: list[Sample]) -> dict[str, Any]:
        ex = [s.extra or {} for s in group]
        first = [bool(e.get("tests_outcomes")) and bool(e["tests_outcomes"][0]) for e in ex]
        second = [s.verdict == "pass" for s in group]
        ran = [e for e in ex if e.get("status") == "done"]
        p1, p2 = _rate(first), _rate(second)
        return {
            "pass_rate_1": p1, "pass_rate_2": p2,
            "debugging_gain": (p2["rate"] - p1["rate"]) if group else None,
            "well_formed": (sum(1 for e in ran if not e.get("num_malformed_responses")) / len(ran)
                            if ran else None),
            "malformed_responses": sum(int(e.get("num_malformed_responses") or 0) for e in ran),
            "syntax_errors": sum(int(e.get("syntax_errors") or 0) for e in ran),
            "test_timeouts": sum(int(e.get("test_timeouts") or 0) for e in ran),
            "errors": sum(1 for s in group if s.verdict in ("error", "timeout")),
            "n": len(group),
        }

    everything = [s for g in by_lang.values() for s in g]
    used = sorted({str((s.extra or {}).get("edit_format")) for s in everything
                   if (s.extra or {}).get("edit_format")})
    return {"edit_format": edit_format or f"aider's default for the model ({', '.join(used) or '?'})",
            "overall": figures(everything) if everything else None,
            "per_language": {lang: figures(g) for lang, g in sorted(by_lang.items())}}


def _bytes(size: str) -> int:
    """'4g' -> bytes (the container limits' notation)."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    return int(float(size[:-1]) * units[size[-1].lower()]) if size[-1].isalpha() else int(size)


def toolchain_paths() -> tuple[list[str], dict[str, str]]:
    """Where this machine's toolchains live when that is under a directory bubblewrap hides
    (rustup's cargo in ~/.cargo and its toolchains in ~/.rustup, say): those directories,
    to bind back read-only, and the variables that find them once HOME has changed (PATH
    with each tool's directory, RUSTUP_HOME)."""
    from benchdock.harnesses.sandbox.local import HIDDEN_DIRS

    dirs: set[str] = set()
    env: dict[str, str] = {}
    home = os.path.expanduser("~")
    tools = {t for lang in LANGUAGES.values() for t in lang.tools if not t.startswith("/")}
    bins: list[str] = []
    for tool in sorted(tools):
        found = shutil.which(tool)
        if not found:
            continue
        if os.path.dirname(found) not in bins:
            bins.append(os.path.dirname(found))
        for path in {os.path.abspath(found), os.path.realpath(found)}:
            hidden = next((h for h in HIDDEN_DIRS if path.startswith(h + "/")), None)
            if hidden is None:
                continue
            # the tool's own top directory under the hidden one (~/.cargo, /opt-like trees)
            rel = os.path.relpath(path, hidden).split(os.sep)
            top = os.path.join(hidden, *rel[:2]) if hidden in ("/home",) else os.path.join(
                hidden, rel[0])
            dirs.add(top)
    from benchdock.harnesses.sandbox.local import _PATH

    env["PATH"] = os.pathsep.join(dict.fromkeys([*_PATH.split(os.pathsep), *bins]))
    rustup = os.environ.get("RUSTUP_HOME") or os.path.join(home, ".rustup")
    if any(d.endswith(".cargo") for d in dirs) and os.path.isdir(rustup):
        dirs.add(rustup)
        env["RUSTUP_HOME"] = rustup
    return sorted(dirs), env
