"""A pydantic base for agent-facing models that leave out their null fields."""

from __future__ import annotations

from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer


class Compact(BaseModel):
    """Leaves out fields that are null: tool outputs are read into an agent's context, and an
    MCP client validates every node against the output schema, so a null said for every
    item of a long list is paid for twice."""

    @model_serializer(mode="wrap")
    def _drop_nulls(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        return {k: v for k, v in handler(self).items() if v is not None}
