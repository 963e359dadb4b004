"""The pages' templates (Jinja2, autoescaped: answers and test output are the model's text,
shown as text, never as markup) and the filters they format figures with."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from benchdock.harnesses.contract.dimensions import DIMENSION_INFO

NONE = "\u2013"  # an en dash: no figure


def _f(digits: int) -> Any:
    return lambda v: NONE if v is None else f"{v:.{digits}f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    s = round(seconds)
    if s < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def _when(t: datetime | None) -> str:
    if t is None:
        return NONE
    t = t if t.tzinfo else t.replace(tzinfo=UTC)
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False, default=str)


def query(base: Mapping[str, Any], **changes: Any) -> str:
    """The query string of `base` with `changes` (None drops a key; lists repeat it)."""
    merged = {**base, **changes}
    pairs: list[tuple[str, str]] = []
    for k, v in merged.items():
        if v is None or v == "" or v == []:
            continue
        for item in v if isinstance(v, list | tuple) else [v]:
            pairs.append((k, str(item)))
    return urlencode(pairs)


def environment() -> Environment:
    env = Environment(loader=PackageLoader("benchdock.server.viewer"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters.update(f1=_f(1), f2=_f(2), f3=_f(3), duration=_duration, when=_when,
                       pretty=_pretty, pct=lambda v: NONE if v is None else f"{100 * v:.1f}%")
    env.globals.update(query=query, dimension_title=lambda d: DIMENSION_INFO[d].title
                       if d in DIMENSION_INFO else d)
    return env


class Pages:
    """Renders a page or a fragment of one."""

    def __init__(self, store_label: str) -> None:
        self.templates = Jinja2Templates(env=environment())
        self.store_label = store_label

    def page(self, request: Request, name: str, context: dict[str, Any],
             status_code: int = 200, headers: Mapping[str, str] | None = None) -> HTMLResponse:
        ctx = {"store": self.store_label, **context}
        return self.templates.TemplateResponse(request, name, ctx, status_code=status_code,
                                               headers=dict(headers or {}))
