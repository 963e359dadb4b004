"""list_models: what the endpoints serve, each model once (under its endpoint)."""

from __future__ import annotations

from typing import Annotated

from fastmcp import FastMCP
from pydantic import Field

from benchdock.harnesses.contract.compact import Compact
from benchdock.harnesses.service import discovery
from benchdock.harnesses.service import operations as service
from benchdock.harnesses.service.operations import Core
from benchdock.tools._errors import agent_errors


class ModelView(Compact):
    id: str
    context_size: int | None = None
    quantization: str | None = None
    parameter_count: int | None = None
    parameter_size: str | None = None
    file_size_bytes: int | None = None
    parallel_slots: int | None = None


class EndpointView(Compact):
    url: str
    name: str | None = None
    up: bool
    server: str | None = None
    swapping: str | None = None
    loaded: list[str] | None = None
    error: str | None = None
    models: list[ModelView]


class ModelList(Compact):
    endpoints: list[EndpointView]
    note: str | None = None


def register(mcp: FastMCP, core: Core) -> None:
    @mcp.tool(annotations={"readOnlyHint": True, "openWorldHint": True}, output_schema=None)
    @agent_errors
    async def list_models(
        endpoint: Annotated[str | None, Field(
            description="Only this endpoint (URL or configured name); default: all")] = None,
    ) -> ModelList:
        """The models on the endpoints (llama.cpp, llama-swap, ollama, vLLM, LM Studio,
        Lemonade), each once under its endpoint: context size, quantization, parameters,
        file size and slots where the server tells them; whether it swaps models and what
        is loaded. A down endpoint is listed with its error. With none configured, the
        usual local ports are looked at first (`note` says what was found)."""
        statuses = await service.list_models(core.settings, endpoint)
        _, note = await discovery.endpoints(core.settings)
        return ModelList(note=note, endpoints=[EndpointView(
            url=s.url, name=s.name, up=s.up, server=s.server, swapping=s.swapping,
            loaded=s.loaded, error=s.error,
            models=[ModelView.model_validate(m.model_dump(exclude={"endpoint", "server"}))
                    for m in s.models]) for s in statuses])
