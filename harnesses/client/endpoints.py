"""Finding the models on the user's OpenAI-compatible servers, and what each server says of them.

Every server kind exposes something different (llama.cpp `/props`, ollama `/api/tags` and
`/api/show`, vLLM `max_model_len`, LM Studio `/api/v0/models`, Lemonade `/api/v1/health`);
we ask for each in turn and keep what answers.

Lemonade Server (AMD's, for Ryzen AI machines) serves the OpenAI API under `/api/v1` (its
endpoint URL ends in /api/v1, on port 8000 or 13305 by default); its `/api/v1/health` names
the models loaded (`all_models_loaded`, with the context size each was loaded with) and how
many LLMs it holds at once (`max_models.llm`, 1 by default): it loads and unloads models on
demand, so with room for one LLM it swaps like llama-swap and is scheduled like it. A server that is down becomes a status with its error, never an
exception, so one dead endpoint does not hide the others.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from pydantic import BaseModel, Field

from benchdock.harnesses.config import EndpointConfig


class ModelInfo(BaseModel):
    id: str = Field(description="Model id to pass to run_benchmark")
    endpoint: str = Field(description="Base URL of the endpoint serving it")
    server: str = Field(description=(
        "llama.cpp, llama-cpp-python, ollama, vllm, lmstudio, lemonade or openai"))
    context_size: int | None = Field(default=None, description="Context window in tokens")
    quantization: str | None = None
    parameter_count: int | None = None
    parameter_size: str | None = Field(default=None, description="As the server states it, e.g. 7.6B")
    file_size_bytes: int | None = None
    parallel_slots: int | None = Field(default=None, description="Requests the server runs at once")


class EndpointStatus(BaseModel):
    url: str
    name: str | None = None
    up: bool
    server: str | None = None
    error: str | None = None
    models: list[ModelInfo] = Field(default_factory=list)
    swapping: str | None = Field(default=None, description=(
        "llama-swap, ollama or lemonade: the server loads one model (or a few) at a time and "
        "switching costs a load; null when it serves its models side by side"))
    loaded: list[str] | None = Field(default=None, description=(
        "Models loaded right now (swapping servers only)"))


def root_of(url: str) -> str:
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _headers(ep: EndpointConfig) -> dict[str, str]:
    return {"Authorization": f"Bearer {ep.api_key}"} if ep.api_key else {}


async def _get(client: httpx.AsyncClient, url: str, ep: EndpointConfig) -> Any | None:
    try:
        r = await client.get(url, headers=_headers(ep))
        if r.status_code != 200:
            return None
        return r.json()
    except (httpx.HTTPError, ValueError):
        return None


async def probe(ep: EndpointConfig, timeout: float = 5.0,
                transport: httpx.AsyncBaseTransport | None = None) -> EndpointStatus:
    root = root_of(ep.url)
    async with httpx.AsyncClient(timeout=timeout, transport=transport) as client:
        try:
            r = await client.get(f"{ep.url}/models", headers=_headers(ep))
            r.raise_for_status()
            listing = r.json()
        except httpx.HTTPStatusError as exc:
            return EndpointStatus(url=ep.url, name=ep.name, up=False,
                                  error=f"GET {ep.url}/models -> HTTP {exc.response.status_code}")
        except (httpx.HTTPError, ValueError) as exc:
            return EndpointStatus(url=ep.url, name=ep.name, up=False,
                                  error=f"{type(exc).__name__}: {exc or 'no answer'}")
        data = listing.get("data", []) if isinstance(listing, dict) else []
        props, tags, lms, running, ps, health = await asyncio.gather(
            _get(client, f"{root}/props", ep),
            _get(client, f"{root}/api/tags", ep),
            _get(client, f"{root}/api/v0/models", ep),
            _get(client, f"{root}/running", ep),
            _get(client, f"{root}/api/ps", ep),
            _get(client, f"{ep.url}/health", ep),
        )
        models = [_from_openai(ep.url, m) for m in data if isinstance(m, dict) and "id" in m]
        server = "openai"
        lemonade = health if isinstance(health, dict) and is_lemonade(health) else None
        if lemonade is not None:
            server = "lemonade"
            _apply_lemonade(models, data, lemonade)
        elif isinstance(props, dict) and "default_generation_settings" in props:
            server = "llama.cpp"
            _apply_llamacpp_props(models, props)
        elif isinstance(tags, dict) and "models" in tags:
            server = "ollama"
            await _apply_ollama(client, ep, root, models, tags)
        elif isinstance(lms, dict) and "data" in lms:
            server = "lmstudio"
            _apply_lmstudio(models, lms)
        elif any(m.context_size and m.server == "vllm" for m in models):
            server = "vllm"
        elif data and all(d.get("owned_by") == "me" for d in data):
            server = "llama-cpp-python"
        for m in models:
            if m.server == "openai":
                m.server = server
        swapping, loaded = (lemonade_swap(lemonade) if lemonade is not None
                            else swap_state(running, ps))
        return EndpointStatus(url=ep.url, name=ep.name, up=True, server=server, models=models,
                              swapping=swapping, loaded=loaded)


def swap_state(running: Any, ps: Any) -> tuple[str | None, list[str] | None]:
    """Whether the server swaps models, from llama-swap's `/running` ({"running": [{"model":
    ...}]}) or ollama's `/api/ps` ({"models": [{"name": ...}]}), and what is loaded now."""
    if isinstance(running, dict) and isinstance(running.get("running"), list):
        return "llama-swap", [str(r.get("model")) for r in running["running"]
                              if isinstance(r, dict) and r.get("model")]
    if isinstance(ps, dict) and isinstance(ps.get("models"), list):
        return "ollama", [str(r.get("name") or r.get("model")) for r in ps["models"]
                          if isinstance(r, dict) and (r.get("name") or r.get("model"))]
    return None, None


def is_lemonade(health: Any) -> bool:
    """Lemonade's health names what is loaded; llama-server's says only its status."""
    return isinstance(health, dict) and ("all_models_loaded" in health
                                         or "model_loaded" in health)


def lemonade_swap(health: dict[str, Any]) -> tuple[str | None, list[str]]:
    """('lemonade', the LLMs loaded now) when it holds one LLM at a time (its default),
    (None, loaded) when it may hold several."""
    loaded = [str(m.get("model_name")) for m in health.get("all_models_loaded") or []
              if isinstance(m, dict) and m.get("model_name") and m.get("type", "llm") == "llm"]
    if not loaded and health.get("model_loaded"):
        loaded = [str(health["model_loaded"])]
    room = (health.get("max_models") or {}).get("llm", 1)
    return ("lemonade" if not isinstance(room, int) or room <= 1 else None), loaded


def _apply_lemonade(models: list[ModelInfo], data: list[Any], health: dict[str, Any]) -> None:
    """Quantization from each model's checkpoint (`org/repo:Q4_K_M`); the context size of
    the ones loaded now, from the options they were loaded with."""
    by_id = {d.get("id"): d for d in data if isinstance(d, dict)}
    loaded = {m.get("model_name"): m for m in health.get("all_models_loaded") or []
              if isinstance(m, dict)}
    for m in models:
        d = by_id.get(m.id) or {}
        m.quantization = _quant_from_name(str(d.get("checkpoint") or "")) or m.quantization
        opts = (loaded.get(m.id) or {}).get("recipe_options") or {}
        ctx = opts.get("ctx_size") or d.get("max_context_window")
        if isinstance(ctx, int):
            m.context_size = ctx


def _from_openai(url: str, m: dict[str, Any]) -> ModelInfo:
    info = ModelInfo(id=str(m["id"]), endpoint=url, server="openai")
    meta = m.get("meta") or {}
    if isinstance(meta, dict):  # llama-server puts GGUF facts here
        info.context_size = meta.get("n_ctx") or meta.get("n_ctx_train")
        info.parameter_count = meta.get("n_params")
        info.file_size_bytes = meta.get("size")
    if "max_model_len" in m:  # vLLM
        info.context_size = m["max_model_len"]
        info.server = "vllm"
    return info


def _apply_llamacpp_props(models: list[ModelInfo], props: dict[str, Any]) -> None:
    gen = props.get("default_generation_settings") or {}
    n_ctx = gen.get("n_ctx") or props.get("n_ctx")
    slots = props.get("total_slots")
    path = str(props.get("model_path") or "")
    quant = _quant_from_name(path)
    for m in models:
        m.context_size = n_ctx or m.context_size
        m.parallel_slots = slots
        m.quantization = m.quantization or quant


async def _apply_ollama(
    client: httpx.AsyncClient, ep: EndpointConfig, root: str, models: list[ModelInfo],
    tags: dict[str, Any],
) -> None:
    by_name = {t.get("name") or t.get("model"): t for t in tags.get("models", [])}
    for m in models:
        t = by_name.get(m.id) or {}
        details = t.get("details") or {}
        m.quantization = details.get("quantization_level")
        m.parameter_size = details.get("parameter_size")
        m.file_size_bytes = t.get("size")
        try:
            r = await client.post(f"{root}/api/show", json={"model": m.id}, headers=_headers(ep))
            info = r.json().get("model_info", {}) if r.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            info = {}
        for k, v in info.items():
            if k.endswith(".context_length"):
                m.context_size = v
            if k == "general.parameter_count":
                m.parameter_count = v


def _apply_lmstudio(models: list[ModelInfo], lms: dict[str, Any]) -> None:
    by_id = {d.get("id"): d for d in lms.get("data", [])}
    for m in models:
        d = by_id.get(m.id) or {}
        m.quantization = d.get("quantization")
        m.context_size = d.get("loaded_context_length") or d.get("max_context_length")


def _quant_from_name(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1].upper().replace("-", "_")
    for tag in ("Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q5_1", "Q5_0", "Q4_K_M", "Q4_K_S", "Q4_1",
                "Q4_0", "Q3_K_M", "Q3_K_L", "Q3_K_S", "Q2_K", "IQ4_XS", "IQ4_NL", "F16", "BF16",
                "F32", "MXFP4"):
        if tag in name:
            return tag
    return None


async def discover(endpoints: list[EndpointConfig], only: str | None = None,
                   timeout: float = 5.0) -> list[EndpointStatus]:
    chosen = [e for e in endpoints if only in (None, e.url, e.name)]
    return list(await asyncio.gather(*(probe(e, timeout) for e in chosen)))


def default_concurrency(status: EndpointStatus, model: ModelInfo, ep: EndpointConfig) -> int:
    """What the server can serve at once, never more: its slots, the user's setting, else 1."""
    if ep.concurrency:
        return ep.concurrency
    if model.parallel_slots:
        return int(model.parallel_slots)
    if status.server == "vllm":
        return 8  # vLLM batches continuously; 8 stays far below its default max_num_seqs
    return 1
