"""Each tool result is sent once: its JSON as the one text block, with no structured copy.

An MCP result may carry its data twice — as text for clients that read text and as
`structuredContent` for those that validate it against the tool's output schema — and an
agent's context pays for both (and tools/list for every output schema: 37,686 of its 55,964
characters before this). Every client reads the text, so the text is the result: compact
JSON, without the fields that are null. Field descriptions that an output schema carried
are in the tools' descriptions where an agent needs them to read a figure."""

from __future__ import annotations

import json

from fastmcp.tools import ToolResult
from mcp.types import TextContent
from pydantic import BaseModel

Result = ToolResult


def text_of(model: BaseModel) -> str:
    return json.dumps(model.model_dump(mode="json", exclude_none=True), separators=(",", ":"),
                      ensure_ascii=False)


def once(model: BaseModel) -> ToolResult:
    return ToolResult(content=[TextContent(type="text", text=text_of(model))])
