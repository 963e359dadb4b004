"""What a benchdock tool returned: its one text block, parsed (results are sent once, as
JSON text, with no structured copy: tools/_result.py)."""

from __future__ import annotations

import json
from typing import Any


def payload(res: Any) -> dict[str, Any]:
    """The JSON object of a tool result (fastmcp's CallToolResult, or the raw MCP one)."""
    content = getattr(res, "content", None) or []
    texts = [c.text for c in content if getattr(c, "type", None) == "text"]
    assert len(texts) == 1, f"expected one text block, got {content!r}"
    data = json.loads(texts[0])
    assert isinstance(data, dict), texts[0][:200]
    return data


def size(res: Any) -> int:
    """Characters the agent reads: every text block of the result, and any structured copy."""
    content = getattr(res, "content", None) or []
    n = sum(len(c.text) for c in content if getattr(c, "type", None) == "text")
    structured = getattr(res, "structured_content", None)
    return n + (len(json.dumps(structured)) if structured is not None else 0)
