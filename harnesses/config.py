"""Settings from the environment (and an optional benchdock.toml).

The variable names are a public interface: users put them in their MCP client's config,
and the worker process inherits them from the server that spawned it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, Field

SandboxMode = Literal["docker", "local", "auto"]
DEFAULT_ENDPOINT = "http://127.0.0.1:8080/v1"
DEFAULT_IMAGE = "benchdock-sandbox:1"


def default_home(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ if env is None else env)
    return Path(env.get("BENCHDOCK_HOME") or platformdirs.user_data_dir("benchdock"))


def default_envs_dir(env: dict[str, str] | None = None) -> Path:
    """Where benchdock keeps reference harnesses' own environments (BFCL's venv)."""
    env = dict(os.environ if env is None else env)
    return Path(env.get("BENCHDOCK_ENVS") or default_home(env) / "envs")


def benchdock_variables(env: dict[str, str] | None = None) -> dict[str, str]:
    """Every BENCHDOCK_* variable: benchmarks read their own settings from these (through
    `Settings.var`), so a plugin's variable needs no change here."""
    env = dict(os.environ if env is None else env)
    return {k: v for k, v in env.items() if k.startswith("BENCHDOCK_")}


class ConfigError(ValueError):
    """A setting has a value benchdock cannot use; the message names it and the valid choices."""


class EndpointConfig(BaseModel):
    """One OpenAI-compatible server, as the user configured it."""

    url: str = Field(description="Base URL ending in /v1, e.g. http://127.0.0.1:8080/v1")
    name: str | None = Field(default=None, description="A short name for the endpoint")
    api_key: str | None = Field(default=None, description="Bearer token, if the server needs one")
    concurrency: int | None = Field(
        default=None, ge=1, description="Requests at once; default: what the server reports"
    )
    swaps: bool = Field(default=False, description=(
        "The server loads one model at a time (llama-swap, ollama): runs of different models "
        "never share it at once"))

    @property
    def label(self) -> str:
        return self.name or self.url


class Settings(BaseModel):
    """Everything a server or worker needs, resolved once at start-up."""

    endpoints: list[EndpointConfig]
    home: Path
    database_url: str
    sandbox: SandboxMode = "auto"
    sandbox_image: str = DEFAULT_IMAGE
    request_timeout_s: float = 600.0
    config_path: str | None = None
    envs_dir: Path = Field(default_factory=default_envs_dir, description=(
        "Where benchdock's own venvs live (reference harnesses', the demo's)"))
    variables: dict[str, str] = Field(default_factory=benchdock_variables, description=(
        "The BENCHDOCK_* variables at start-up: benchmarks' own settings"))
    endpoints_configured: bool = Field(default=True, description=(
        "False when neither BENCHDOCK_ENDPOINTS nor a config file names an endpoint: "
        "discovery then looks on the usual local ports (service/discovery.py)"))

    def var(self, name: str, default: str | None = None) -> str | None:
        """A benchmark's own setting (e.g. BENCHDOCK_POLYGLOT_DIR); empty counts as unset."""
        return self.variables.get(name) or default

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        home = default_home(env)
        endpoints = _endpoints_from(env)
        sandbox = env.get("BENCHDOCK_SANDBOX", "auto").strip().lower() or "auto"
        if sandbox not in ("docker", "local", "auto"):
            raise ConfigError(
                f"BENCHDOCK_SANDBOX={sandbox!r} is not valid; choose one of: docker, local, auto"
            )
        db = env.get("BENCHDOCK_DATABASE_URL") or f"sqlite:///{home / 'benchdock.db'}"
        return cls(
            endpoints=endpoints,
            endpoints_configured=bool(env.get("BENCHDOCK_ENDPOINTS", "").strip()
                                      or env.get("BENCHDOCK_CONFIG")),
            home=home,
            database_url=db,
            sandbox=sandbox,  # type: ignore[arg-type]
            sandbox_image=env.get("BENCHDOCK_SANDBOX_IMAGE", DEFAULT_IMAGE),
            config_path=env.get("BENCHDOCK_CONFIG") or None,
            envs_dir=default_envs_dir(env),
            variables=benchdock_variables(env),
        )

    def env(self) -> dict[str, str]:
        """The environment a child process (the worker) needs to see the same settings."""
        out = {
            **self.variables,
            "BENCHDOCK_HOME": str(self.home),
            "BENCHDOCK_DATABASE_URL": self.database_url,
            "BENCHDOCK_SANDBOX": self.sandbox,
            "BENCHDOCK_SANDBOX_IMAGE": self.sandbox_image,
            "BENCHDOCK_ENDPOINTS": ",".join(e.url for e in self.endpoints),
            "BENCHDOCK_ENVS": str(self.envs_dir),
        }
        if self.config_path:
            out["BENCHDOCK_CONFIG"] = self.config_path
        return out


def _endpoints_from(env: dict[str, str]) -> list[EndpointConfig]:
    cfg_path = env.get("BENCHDOCK_CONFIG")
    endpoints: list[EndpointConfig] = []
    if cfg_path:
        path = Path(cfg_path).expanduser()
        if not path.is_file():
            raise ConfigError(f"BENCHDOCK_CONFIG={cfg_path!r}: no such file")
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        for i, item in enumerate(data.get("endpoints", [])):
            try:
                endpoints.append(EndpointConfig.model_validate(item))
            except ValueError as exc:
                raise ConfigError(f"{path}: endpoints[{i}] is invalid: {exc}") from exc
    raw = env.get("BENCHDOCK_ENDPOINTS", "")
    for url in (u.strip() for u in raw.split(",")):
        if url and all(e.url.rstrip("/") != url.rstrip("/") for e in endpoints):
            endpoints.append(EndpointConfig(url=url))
    if not endpoints:
        endpoints.append(EndpointConfig(url=DEFAULT_ENDPOINT))
    for e in endpoints:
        if not e.url.startswith(("http://", "https://")):
            raise ConfigError(f"endpoint URL {e.url!r} must start with http:// or https://")
        e.url = e.url.rstrip("/")
    return endpoints
