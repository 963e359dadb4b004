"""What every page of one viewer shares: the settings, the store, the templates, the
benchmarks' prompts, and the charts drawn so far."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import Response

from benchdock.harnesses.config import Settings
from benchdock.server.viewer.charts import ChartCache
from benchdock.server.viewer.render import Pages
from benchdock.server.viewer.tasks import TaskInfo


@dataclass
class Viewer:
    settings: Settings
    db: Engine
    pages: Pages
    tasks: TaskInfo
    charts: ChartCache = field(default_factory=ChartCache)


def int_arg(value: str | None, default: int | None = None) -> int | None:
    """A query argument as an integer; a value that is not one counts as absent."""
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        return default


def page_arg(value: str | None) -> int:
    """A page number: 1 unless a positive integer is given."""
    return max(1, int_arg(value, 1) or 1)


def float_arg(value: str | None) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        return None


def not_found(v: Viewer, request: Request, why: str) -> Response:
    return v.pages.page(request, "error.html.j2", {"title": "Not found", "why": why},
                        status_code=404)


def bad_request(v: Viewer, request: Request, why: str) -> Response:
    return v.pages.page(request, "error.html.j2", {"title": "Cannot show that", "why": why},
                        status_code=400)
