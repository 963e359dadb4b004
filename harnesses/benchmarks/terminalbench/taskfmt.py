"""Harbor's task format, read by benchdock: one folder per task.

    instruction.md          what the agent is told (leading canary comment lines dropped)
    task.toml               timeouts, resources, network, verifier settings
    environment/Dockerfile  the task's environment (or [environment] docker_image)
    solution/solve.sh       a reference solution (never shown to the agent)
    tests/test.sh           the verifier: writes /logs/verifier/reward.txt or reward.json

The fields benchdock reads are Harbor 0.25's (`[agent] timeout_sec`, `[verifier]
timeout_sec` and `env`, `[environment] build_timeout_sec`, `docker_image`, `cpus`,
`memory_mb`, `storage_mb`, `network_mode`, `workdir`, `env`), with the deprecated spellings
Harbor still accepts (`allow_internet`, `memory = "2G"`, `storage = "10G"`). What benchdock
cannot run faithfully is refused when the task is loaded, naming the field: a
docker-compose environment (several services), multi-step tasks (`[[steps]]`), a separate
verifier environment, Windows containers, GPUs and TPUs, an allow-list network.
Unknown fields are ignored, as Harbor's own reader does with sections it does not use.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from benchdock.harnesses.contract.benchmark import DatasetUnavailable

DEFAULT_AGENT_TIMEOUT_S = 900.0  # Harbor's task template; a task without one gets this
DEFAULT_VERIFIER_TIMEOUT_S = 600.0  # Harbor's VerifierConfig default
DEFAULT_BUILD_TIMEOUT_S = 600.0  # Harbor's EnvironmentConfig default
DEFAULT_MEMORY_MB = 2048  # when a task names none (Docker's would be the whole machine)
DEFAULT_CPUS = 1.0
_CANARY = re.compile(r"^(<!--.*canary.*-->|#.*canary.*)$", re.IGNORECASE)
Network = Literal["no-network", "public"]


class TaskFormatError(DatasetUnavailable):
    """A task folder benchdock cannot read or cannot run faithfully; says which field."""


class HarborTask(BaseModel):
    """One task folder, as benchdock runs it."""

    name: str = Field(description="The folder's name: the task id in runs")
    path: Path
    instruction: str
    agent_timeout_s: float
    verifier_timeout_s: float
    build_timeout_s: float
    docker_image: str | None = Field(default=None, description=(
        "A prebuilt image the task names; else environment/Dockerfile is built"))
    cpus: float
    memory_mb: int
    storage_mb: int | None = None
    network: Network = Field(description="The agent's network: Harbor's network_mode")
    workdir: str | None = None
    env: dict[str, str] = Field(default_factory=dict, description=(
        "[environment] env, resolved from benchdock's environment"))
    verifier_env: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def dockerfile(self) -> Path:
        return self.path / "environment" / "Dockerfile"

    @property
    def tests_dir(self) -> Path:
        return self.path / "tests"

    @property
    def solve_script(self) -> Path:
        return self.path / "solution" / "solve.sh"

    def content_hash(self) -> str:
        """sha256 of every file of the folder (names and bytes): the task's identity."""
        return tree_hash(self.path)

    def environment_hash(self) -> str:
        """What the task's image is built from (environment/ only)."""
        return tree_hash(self.path / "environment")[:12]


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(str(f.relative_to(root)).encode() + b"\0")
        h.update(f.read_bytes() + b"\0")
    return h.hexdigest()


def strip_canary(text: str) -> str:
    """The instruction without its leading canary lines (as Harbor shows it to agents)."""
    lines = text.split("\n")
    i = 0
    while i < len(lines) and _CANARY.match(lines[i].strip()):
        i += 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    return "\n".join(lines[i:])


def _size_mb(value: Any, field: str, where: Path) -> int:
    """Harbor's deprecated size strings ("2G", "512M", "1024K") in MB."""
    text = str(value).strip().upper()
    units = {"G": 1024.0, "M": 1.0, "K": 1 / 1024}
    if text[-1:] in units:
        try:
            return int(float(text[:-1]) * units[text[-1]])
        except ValueError:
            pass
    raise TaskFormatError(f"{where}: [environment] {field} = {value!r} is not a size like "
                          "'2G', '512M' or '1024K'")


def _env_values(raw: Any, where: Path, section: str, lookup: dict[str, str]) -> dict[str, str]:
    """An env table, with Harbor's ${VAR} and ${VAR:-default} filled from `lookup`."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise TaskFormatError(f"{where}: [{section}] env must be a table of strings")

    def fill(m: re.Match[str]) -> str:
        name, _, default = m.group(1).partition(":-")
        if name in lookup:
            return lookup[name]
        if ":-" in m.group(1):
            return default
        raise TaskFormatError(f"{where}: [{section}] env needs ${{{name}}}, which is not set "
                              "in benchdock's environment")

    return {str(k): re.sub(r"\$\{([^}]+)\}", fill, str(v)) for k, v in raw.items()}


def _number(table: dict[str, Any], key: str, default: float | None, where: Path,
            section: str) -> float | None:
    value = table.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise TaskFormatError(f"{where}: [{section}] {key} = {value!r} must be a positive "
                              "number")
    return float(value)


def _network(env: dict[str, Any], agent: dict[str, Any], where: Path) -> Network:
    """Harbor's network policy for the agent phase: [agent] network_mode, else
    [environment] network_mode, else the deprecated allow_internet, else public."""
    mode = agent.get("network_mode") or env.get("network_mode")
    if mode is None and env.get("allow_internet") is not None:
        mode = "public" if env["allow_internet"] else "no-network"
    mode = mode or "public"
    if mode == "allowlist":
        raise TaskFormatError(f"{where}: network_mode = 'allowlist' is not supported by "
                              "benchdock (its containers have either no network or the "
                              "engine's); valid here: 'no-network', 'public'")
    if mode not in ("no-network", "public"):
        raise TaskFormatError(f"{where}: network_mode = {mode!r} is not one of 'no-network', "
                              "'public', 'allowlist'")
    return "public" if mode == "public" else "no-network"


def load_task(path: Path, lookup: dict[str, str] | None = None) -> HarborTask:
    """One task folder (see the module's docstring); a TaskFormatError naming the field
    otherwise."""
    path = path.resolve()
    config = path / "task.toml"
    if not config.is_file():
        raise TaskFormatError(f"{path}: no task.toml (not a Harbor task folder)")
    try:
        raw = tomllib.loads(config.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TaskFormatError(f"{config}: not valid TOML: {exc}") from None
    instruction = path / "instruction.md"
    if not instruction.is_file():
        raise TaskFormatError(f"{path}: no instruction.md")
    if not (path / "tests" / "test.sh").is_file():
        raise TaskFormatError(f"{path}: no tests/test.sh (the verifier benchdock runs)")
    if raw.get("steps"):
        raise TaskFormatError(f"{config}: multi-step tasks ([[steps]]) are not supported by "
                              "benchdock yet")
    env: dict[str, Any] = dict(raw.get("environment") or {})
    agent: dict[str, Any] = dict(raw.get("agent") or {})
    verifier: dict[str, Any] = dict(raw.get("verifier") or {})
    if verifier.get("environment") or verifier.get("environment_mode") == "separate":
        raise TaskFormatError(f"{config}: a separate verifier environment "
                              "([verifier] environment_mode = 'separate') is not supported; "
                              "benchdock verifies in a fresh container of the agent's final "
                              "filesystem")
    for key, why in (("gpus", "GPUs"), ("tpu", "TPUs")):
        if env.get(key):
            raise TaskFormatError(f"{config}: [environment] {key} asks for {why}, which "
                                  "benchdock does not provide")
    if str(env.get("os", "linux")).lower() != "linux":
        raise TaskFormatError(f"{config}: [environment] os = {env['os']!r}: only 'linux' runs")
    compose = [n for n in ("docker-compose.yaml", "docker-compose.yml", "compose.yaml")
               if (path / "environment" / n).is_file()]
    if compose:
        raise TaskFormatError(f"{path}: environment/{compose[0]} (several services) is not "
                              "supported by benchdock; a task needs environment/Dockerfile "
                              "or [environment] docker_image")
    image = env.get("docker_image")
    if not image and not (path / "environment" / "Dockerfile").is_file():
        raise TaskFormatError(f"{path}: neither environment/Dockerfile nor [environment] "
                              "docker_image")
    memory = env.get("memory_mb")
    if memory is None and env.get("memory") is not None:
        memory = _size_mb(env["memory"], "memory", config)
    storage = env.get("storage_mb")
    if storage is None and env.get("storage") is not None:
        storage = _size_mb(env["storage"], "storage", config)
    lookup = lookup or {}
    return HarborTask(
        name=path.name, path=path, instruction=strip_canary(instruction.read_text()),
        agent_timeout_s=_number(agent, "timeout_sec", DEFAULT_AGENT_TIMEOUT_S, config,
                                "agent") or DEFAULT_AGENT_TIMEOUT_S,
        verifier_timeout_s=_number(verifier, "timeout_sec", DEFAULT_VERIFIER_TIMEOUT_S, config,
                                   "verifier") or DEFAULT_VERIFIER_TIMEOUT_S,
        build_timeout_s=_number(env, "build_timeout_sec", DEFAULT_BUILD_TIMEOUT_S, config,
                                "environment") or DEFAULT_BUILD_TIMEOUT_S,
        docker_image=str(image) if image else None,
        cpus=_number(env, "cpus", DEFAULT_CPUS, config, "environment") or DEFAULT_CPUS,
        memory_mb=int(_number({"memory_mb": memory}, "memory_mb", DEFAULT_MEMORY_MB, config,
                              "environment") or DEFAULT_MEMORY_MB),
        storage_mb=int(storage) if storage else None,
        network=_network(env, agent, config), workdir=env.get("workdir"),
        env=_env_values(env.get("env"), config, "environment", lookup),
        verifier_env=_env_values(verifier.get("env"), config, "verifier", lookup),
        metadata=dict(raw.get("metadata") or {}))


def find_task_dirs(root: Path) -> list[Path]:
    """Task folders under `root` (itself, its children, or its grandchildren: Harbor's
    export layout is <out>/<dataset>/<task>/), sorted by name."""
    root = root.expanduser()
    if not root.is_dir():
        raise DatasetUnavailable(f"{root}: no such directory of Harbor tasks")
    if (root / "task.toml").is_file():
        return [root]
    for depth in ("*/task.toml", "*/*/task.toml"):
        found = sorted({p.parent for p in root.glob(depth)}, key=lambda p: p.name)
        if found:
            return found
    raise DatasetUnavailable(f"{root}: no Harbor task folders (a folder with task.toml) in it "
                             "or one level below")


def load_tasks(root: Path, lookup: dict[str, str] | None = None) -> list[HarborTask]:
    tasks = [load_task(p, lookup) for p in find_task_dirs(root)]
    names = [t.name for t in tasks]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise TaskFormatError(f"{root}: several task folders are called {', '.join(dup)}")
    return tasks
