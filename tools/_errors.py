"""Turning the core's user-facing errors into MCP tool errors (text the agent sees)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from fastmcp.exceptions import ToolError

from benchdock.harnesses.config import ConfigError
from benchdock.harnesses.errors import BenchdockError

P = ParamSpec("P")
R = TypeVar("R")


def agent_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except (BenchdockError, ConfigError) as exc:
            raise ToolError(str(exc)) from None

    return wrapper
