"""The viewer's web app: a Starlette application (the framework fastmcp already brings),
pages rendered by Jinja2 on the server, htmx (vendored, `static/`) for the parts that
refresh themselves while runs go on. A factory, so each test gets its own.

Every view has a URL (filters are query arguments), and the paths are the ones
`harnesses/service/links.py` puts in MCP results. Handlers are plain functions: Starlette
runs them in its thread pool, so the store's synchronous queries never block the loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from benchdock.harnesses.config import Settings
from benchdock.server.viewer import decisions, dimensions, runs, samples, side
from benchdock.server.viewer.context import Viewer
from benchdock.server.viewer.guard import COOKIE, Guard, safe_next, same, session_value
from benchdock.server.viewer.render import Pages
from benchdock.server.viewer.tasks import TaskInfo

STATIC = Path(__file__).parent / "static"
Handler = Callable[[Viewer, Request], Response]


def store_label(db: Engine) -> str:
    """The store, as the pages name it (never with its password)."""
    if db.dialect.name == "sqlite":
        return f"SQLite {db.url.database}"
    return f"{db.dialect.name} {db.url.render_as_string(hide_password=True)}"


def create_viewer(settings: Settings, db: Engine | None = None, *, token: str | None = None,
                  warm_charts: bool = False) -> Starlette:
    """The app over `settings`' store (or `db`); with `token`, every request needs it; with
    `warm_charts`, the default charts are drawn in the background from the start."""
    if db is None:
        from benchdock.store.db import make_engine

        db = make_engine(settings.database_url)
    v = Viewer(settings=settings, db=db, pages=Pages(store_label(db)), tasks=TaskInfo(settings))
    if warm_charts:
        threading.Thread(target=v.charts.warm, args=(db,), name="viewer-charts",
                         daemon=True).start()

    def bind(handler: Handler) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            return handler(v, request)

        return endpoint

    def login_form(request: Request) -> Response:
        if token is None:
            return RedirectResponse("/", status_code=303)
        return v.pages.page(request, "login.html.j2", {  # not even the store's name
            "next": safe_next(request.query_params.get("next")), "wrong": False, "store": ""})

    async def login(request: Request) -> Response:
        if token is None:
            return RedirectResponse("/", status_code=303)
        form = await request.form()
        given, target = str(form.get("token") or ""), safe_next(str(form.get("next") or "/"))
        if not same(given, token):
            return v.pages.page(request, "login.html.j2",
                                {"next": target, "wrong": True, "store": ""}, status_code=401)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, session_value(token), httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    routes: list[BaseRoute] = [
        Route("/", lambda request: RedirectResponse("/runs", status_code=303)),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/runs", bind(runs.runs_list)),
        Route("/runs/{run_id}", bind(runs.run_page)),
        Route("/runs/{run_id}/status", bind(runs.run_status_fragment)),
        Route("/runs/{run_id}/cancel", bind(runs.cancel), methods=["POST"]),
        Route("/runs/{run_id}/resume", bind(runs.resume), methods=["POST"]),
        Route("/runs/{run_id}/samples", bind(samples.samples_list)),
        Route("/runs/{run_id}/samples/{task_id:path}", bind(samples.sample_page)),
        Route("/compare", bind(side.side_page)),
        Route("/compare/task", bind(side.side_task)),
        Route("/dimensions", bind(dimensions.dimensions_page)),
        Route("/charts/{kind}.png", bind(dimensions.chart)),
        Route("/decisions", bind(decisions.decisions_list)),
        Route("/decisions/{decision_id}", bind(decisions.decision_page)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(Guard, token=token)])
