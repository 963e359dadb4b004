"""An IFEval run's live part: asking the model (through benchdock's recording proxy, so every
request is timed, cached and resumable) and checking each response with lm-eval's checkers in
IFEval's venv.

The response is text, never executed; the checkers are trusted code reading untrusted text.
They still run confined, in a process of their own that is restarted if it dies or hangs
(`SupervisedRpc`): in the sandbox image's container when Docker is there (no network,
read-only root, the venv mounted read-only), else under bubblewrap, else — where neither
exists — as a plain subprocess.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import httpx

from benchdock.harnesses.benchmarks.ifeval import scoring
from benchdock.harnesses.benchmarks.ifeval.benchmark import HOST_MOUNTS
from benchdock.harnesses.benchmarks.ifeval.environment import LM_EVAL_VERSION, IfevalEnv
from benchdock.harnesses.contract.benchmark import Task
from benchdock.harnesses.contract.delegated import HarnessSession, SampleOutcome, SessionContext
from benchdock.harnesses.contract.registry import remote_capable
from benchdock.harnesses.envs.managed import container_mounts
from benchdock.harnesses.sandbox.base import Channel, SandboxError
from benchdock.harnesses.sandbox.factory import docker_available
from benchdock.harnesses.sandbox.remote import refuse_remote_engine
from benchdock.harnesses.sandbox.rpc import HarnessLost, RpcChannel, SupervisedRpc
from benchdock.store.tables import Sample

HARNESS = "ifeval"
START_TIMEOUT_S = 120.0
CHECK_TIMEOUT_S = 60.0  # one response's checks take milliseconds; this is a hang
IN_CONTAINER = {"python": "/opt/bdpy", "env": "/opt/bdenv"}
PLAIN = ("a plain subprocess (no Docker, no bubblewrap here): the checkers are trusted code "
         "reading the model's text, which is never executed")


def checker_program() -> str:
    return resources.files("benchdock.harnesses.benchmarks.ifeval.drivers").joinpath("checker.py").read_text()


def open_checker(env: IfevalEnv, sandbox: str, image: str, nltk_data: Path | None = None
                 ) -> tuple[Channel, str, str]:
    """The checker process: (its channel, the sandbox kind, what confines it). `nltk_data`:
    where NLTK looks for punkt_tab (the venv's, by default)."""
    nltk_data = nltk_data or env.nltk_data
    if sandbox == "auto":
        sandbox = "docker" if docker_available(image)[0] else "local"
    if sandbox == "docker":
        from benchdock.harnesses.sandbox.docker_backend import open_container_channel

        volumes, site = container_mounts(env, IN_CONTAINER["python"], IN_CONTAINER["env"])
        if nltk_data.is_relative_to(env.root):
            volumes_nltk = IN_CONTAINER["env"] + "/" + str(nltk_data.relative_to(env.root))
        else:
            volumes[str(nltk_data)] = {"bind": "/opt/bdnltk", "mode": "ro"}
            volumes_nltk = "/opt/bdnltk"
        environment = {"LD_LIBRARY_PATH": IN_CONTAINER["python"] + "/lib", "PYTHONPATH": site,
                       "NLTK_DATA": volumes_nltk, "HOME": "/tmp", "PYTHONUNBUFFERED": "1"}
        argv = [IN_CONTAINER["python"] + "/bin/python3", "-S", "-u", "-c", checker_program()]
        channel = open_container_channel(image, argv, volumes, environment, memory="1g",
                                         cpus=1.0, pids=64)
        return channel, "docker", (f"docker ({image}): no network, read-only root, user 65534, "
                                   "no capabilities, 1g memory")
    from benchdock.harnesses.sandbox import local

    environment = {"NLTK_DATA": str(nltk_data), "PYTHONNOUSERSITE": "1"}
    argv = [str(env.python), "-I", "-u", "-c", checker_program()]
    try:
        channel = local.open_process_channel(argv, environment,
                                             readable=[str(env.root), str(env.base_prefix),
                                                       str(nltk_data)])
        return channel, "local", local.local_isolation()[1]
    except SandboxError:  # root without bubblewrap: refused for code, fine for reading text
        return local._ProcessChannel(argv, environment, isolated=False), "local", PLAIN


class IfevalSession(HarnessSession):
    def __init__(self, env: IfevalEnv, ctx: SessionContext) -> None:
        self.env, self.ctx = env, ctx
        self.temperature = float(ctx.run.params.get("temperature", 0.0))
        self.timeout = httpx.Timeout(ctx.settings.request_timeout_s * 2, connect=10.0)
        self.checker = f"lm-eval {LM_EVAL_VERSION}'s IFEval checkers"
        self.punkt_ok = False
        refuse_remote_engine(HARNESS, HOST_MOUNTS, ctx.settings.sandbox, remote_capable())
        self.rpc = SupervisedRpc(self._start)

    def _start(self) -> RpcChannel:
        channel, self.sandbox_kind, self.isolation = open_checker(
            self.env, self.ctx.settings.sandbox, self.ctx.settings.sandbox_image)
        try:
            rpc = RpcChannel(channel, {}, START_TIMEOUT_S)
        except SandboxError as exc:
            raise SandboxError(f"IFEval's checker did not start ({self.sandbox_kind}): "
                               f"{exc}") from exc
        self.punkt_ok = bool(rpc.hello.get("punkt"))
        return rpc

    async def ask(self, task: Task, tag: str) -> tuple[str | None, str | None]:
        """The model's response (or None and why the endpoint refused the request)."""
        body = {"messages": [{"role": "user", "content": task.prompt}],
                "temperature": self.temperature, "stream": False}
        transport = httpx.AsyncHTTPTransport(uds=str(self.ctx.proxy_socket))
        async with httpx.AsyncClient(transport=transport, timeout=self.timeout) as client:
            r = await client.post(f"http://benchdock/t/{tag}/v1/chat/completions", json=body)
        if r.status_code != 200:
            return None, f"the endpoint refused the request (HTTP {r.status_code}: {r.text[:300]})"
        message = r.json()["choices"][0]["message"]
        return str(message.get("content") or ""), None

    async def check(self, task: Task, response: str) -> SampleOutcome:
        """lm-eval's verdicts on one response, as a sample outcome with its evidence."""
        try:
            reply = await self.rpc.call(
                "check", CHECK_TIMEOUT_S, key=task.data["key"], prompt=task.prompt,
                instruction_id_list=task.data["instruction_id_list"],
                kwargs=task.data["kwargs"], response=response)
        except HarnessLost as exc:
            return SampleOutcome(completion=response, verdict="timeout" if exc.hung else "error",
                                 detail=f"IFEval's checker failed twice on this response: {exc}")
        return scoring.outcome(task, response, reply["instructions"], self.checker)

    async def solve(self, task: Task, tag: str) -> SampleOutcome:
        response, refused = await self.ask(task, tag)
        if response is None:
            return SampleOutcome(completion="", verdict="error", detail=refused)
        return await self.check(task, response)

    async def summarise(self, samples: list[Sample]) -> dict[str, Any]:
        punkt = self.env.punkt_source if self.punkt_ok else None
        return scoring.summarise(samples, self.checker, punkt)

    def retries(self) -> list[str]:
        return list(self.rpc.restarts)

    def close(self) -> None:
        self.rpc.close()
