"""The dimension table (`compare_dimensions`: score, 95% interval, n, the paired test
against each dimension's leader) and the report's radar and quality/speed charts."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from benchdock.harnesses.choice.compare import DEFAULT_PAGE, compare
from benchdock.harnesses.errors import BenchdockError
from benchdock.server.viewer.context import Viewer, bad_request, page_arg


def dimensions_page(v: Viewer, request: Request) -> Response:
    models = [m for m in request.query_params.getlist("models") if m] or None
    page = page_arg(request.query_params.get("page"))
    try:
        offset = (page - 1) * DEFAULT_PAGE
        cmp = v.charts.memo.get(v.db, ("compare", tuple(models or ()), offset), lambda: compare(
            v.db, models, limit=DEFAULT_PAGE, offset=offset))
    except BenchdockError as exc:
        return v.pages.page(request, "dimensions.html.j2", {
            "cmp": None, "problem": str(exc), "models": models or []})
    return v.pages.page(request, "dimensions.html.j2", {
        "cmp": cmp, "models": models or [], "page": page,
        "pages": max(1, -(-cmp.total_models // DEFAULT_PAGE)), "problem": None})


def chart(v: Viewer, request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind not in ("radar", "quality_speed"):
        return bad_request(v, request, f"unknown chart {kind!r}; valid: radar, quality_speed")
    models = [m for m in request.query_params.getlist("models") if m] or None
    try:
        png = v.charts.png(v.db, kind, models)
    except BenchdockError as exc:
        return bad_request(v, request, str(exc))
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-cache"})
