"""list_models: what the configured endpoints serve."""

from __future__ import annotations

from typing import Annotated

from fastmcp import FastMCP
from pydantic import BaseModel, Field

from benchdock.harnesses import service
from benchdock.harnesses.endpoints import EndpointStatus, ModelInfo
from benchdock.harnesses.service import Core
from benchdock.tools._errors import agent_errors


class ModelList(BaseModel):
    models: list[ModelInfo] = Field(description="Every model on every endpoint that answered")
    endpoints: list[EndpointStatus] = Field(description="Each endpoint: up or down (with error)")


def register(mcp: FastMCP, core: Core) -> None:
    @mcp.tool(annotations={"readOnlyHint": True, "openWorldHint": True})
    @agent_errors
    async def list_models(
        endpoint: Annotated[str | None, Field(
            description="Only this endpoint (URL or configured name); default: all")] = None,
    ) -> ModelList:
        """List the models served by the configured OpenAI-compatible endpoints (llama.cpp,
        llama-swap, ollama, vLLM, LM Studio), with context size, quantization, parameter count,
        file size and parallel slots where the server tells them. An endpoint that is down is
        listed with its error. Use a model's `id` with run_benchmark."""
        statuses = await service.list_models(core.settings, endpoint)
        return ModelList(models=[m for s in statuses for m in s.models], endpoints=statuses)
