"""What every tool shares around the core: user-facing errors become MCP tool errors (text
the agent sees), and a result is sent once, as its JSON (`_result.py`)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec

from fastmcp.exceptions import ToolError
from pydantic import BaseModel

from benchdock.harnesses.config import ConfigError
from benchdock.harnesses.errors import BenchdockError
from benchdock.tools._result import once

P = ParamSpec("P")


def agent_errors(fn: Callable[P, Awaitable[object]]) -> Callable[P, Awaitable[object]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> object:
        try:
            result = await fn(*args, **kwargs)
        except (BenchdockError, ConfigError) as exc:
            raise ToolError(str(exc)) from None
        return once(result) if isinstance(result, BaseModel) else result

    return wrapper
