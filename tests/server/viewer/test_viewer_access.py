"""Who may see the viewer, and the links to it in MCP results.

With the token (the HTTP transport's): no token -> login page (browsers) or 401, a wrong
bearer token or a wrong typed token -> 401, the right one -> the pages; the session cookie
is not the token. Without a token (loopback): a request addressed to another host name
(DNS rebinding) and a state-changing request from another site are refused. The bind rules
match `serve`'s. MCP results carry `view_url` exactly while a viewer of the same store runs
here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastmcp import Client
from starlette.testclient import TestClient

from benchdock.harnesses.config import ConfigError
from benchdock.harnesses.service import links
from benchdock.harnesses.service import operations as service
from benchdock.server.app import create_server
from benchdock.server.viewer.app import create_viewer
from benchdock.server.viewer.guard import COOKIE, safe_next
from benchdock.server.viewer.serve import check_bind
from benchdock.store.db import make_engine
from tests.conftest import make_settings
from tests.support.mcp_json import payload
from tests.support.viewer_seed import Seeded, seed_viewer_store

TOKEN = "s3cret-token-for-the-viewer-0123456789"
HTML = {"accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[object, Seeded]:
    settings = make_settings(tmp_path, "http://127.0.0.1:9/v1", sandbox="local")
    db = make_engine(settings.database_url)
    return settings, seed_viewer_store(db)


def client(settings: object, token: str | None, host: str = "127.0.0.1:8766") -> TestClient:
    return TestClient(create_viewer(settings, token=token),  # type: ignore[arg-type]
                      base_url=f"http://{host}", follow_redirects=False)


def test_token_is_required_and_a_wrong_one_refused(seeded: tuple[object, Seeded]) -> None:
    settings, s = seeded
    c = client(settings, TOKEN, host="viewer.lan:8766")
    to_login = c.get("/runs", headers=HTML)
    assert to_login.status_code == 303 and to_login.headers["location"] == "/login?next=/runs"
    assert c.get(f"/runs/{s.a}").status_code == 401  # a script without the token
    wrong = c.get("/runs", headers={"authorization": "Bearer not-the-token-at-all-123"})
    assert wrong.status_code == 401 and "invalid_token" in wrong.headers["www-authenticate"]
    assert c.get("/runs", headers={"authorization": f"Basic {TOKEN}"}).status_code == 401
    right = c.get(f"/runs/{s.a}", headers={"authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200 and "m-a on humaneval-plus" in right.text
    assert c.get("/static/viewer.css").status_code == 200  # the login page's own files
    assert c.get("/static/htmx.min.js").status_code == 200
    assert c.get("/staticx").status_code == 401  # a prefix of a path is not the path
    # the login form: a wrong token is refused, the right one sets a session that works
    login = c.get("/login?next=/runs", headers=HTML)
    assert login.status_code == 200 and 'name="token"' in login.text
    assert "benchdock.db" not in login.text and 'href="/runs"' not in login.text  # store, nav
    bad = c.post("/login", data={"token": "nope-nope-nope-nope", "next": "/runs"})
    assert bad.status_code == 401 and 'id="wrong-token"' in bad.text
    assert COOKIE not in bad.cookies
    good = c.post("/login", data={"token": TOKEN, "next": f"/runs/{s.b}"})
    assert good.status_code == 303 and good.headers["location"] == f"/runs/{s.b}"
    cookie = good.cookies[COOKIE]
    assert TOKEN not in cookie
    assert "httponly" in good.headers["set-cookie"].lower()
    assert "samesite=strict" in good.headers["set-cookie"].lower()
    fresh = client(settings, TOKEN, host="viewer.lan:8766")
    fresh.cookies.set(COOKIE, cookie)
    assert fresh.get(f"/runs/{s.b}").status_code == 200
    fresh.cookies.set(COOKIE, "0" * 64)
    assert fresh.get(f"/runs/{s.b}").status_code == 401


def test_next_after_login_stays_on_this_server() -> None:
    assert safe_next("/runs/abc?x=1") == "/runs/abc?x=1"
    for hostile in ("//evil.example/x", "https://evil.example", "/\\evil.example", "", None):
        assert safe_next(hostile) == "/"


def test_loopback_without_token_refuses_other_hosts_and_sites(
        seeded: tuple[object, Seeded]) -> None:
    settings, s = seeded
    c = client(settings, None)
    page = c.get("/runs")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client(settings, None, host="localhost:8766").get("/runs").status_code == 200
    assert client(settings, None, host="[::1]:8766").get("/runs").status_code == 200
    rebound = client(settings, None, host="attacker.example:8766").get("/runs")
    assert rebound.status_code == 403 and "DNS rebinding" in rebound.text
    forged = c.post(f"/runs/{s.queued}/cancel", headers={"origin": "http://attacker.example"})
    assert forged.status_code == 403
    assert service.peek_status(make_engine(settings.database_url),  # type: ignore[attr-defined]
                               s.queued).status == "queued"
    ours = c.post(f"/runs/{s.queued}/cancel", headers={"origin": "http://127.0.0.1:8766"})
    assert ours.status_code == 303


def test_bind_rules_match_serve() -> None:
    assert "loopback only" in check_bind("127.0.0.1", None, False)[0]
    with pytest.raises(ConfigError, match=r"refusing to serve the viewer on 0\.0\.0\.0"):
        check_bind("0.0.0.0", None, False)
    assert any("WITHOUT AUTHENTICATION" in line for line in check_bind("0.0.0.0", None, True))
    assert check_bind("0.0.0.0", TOKEN, False)
    with pytest.raises(ConfigError, match="drop one of them"):
        check_bind("0.0.0.0", TOKEN, True)


def test_the_command_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BENCHDOCK_HTTP_TOKEN"}
    env.update(BENCHDOCK_HOME=str(tmp_path), BENCHDOCK_ENDPOINTS="http://127.0.0.1:9/v1")
    got = subprocess.run([sys.executable, "-m", "benchdock.server.cli", "view", "--host",
                          "0.0.0.0", "--port", "0"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert got.returncode == 2 and "refusing to serve the viewer" in got.stderr
    assert not links.record_path(tmp_path).exists()


@pytest.mark.anyio
async def test_mcp_results_link_to_a_running_viewer(seeded: tuple[object, Seeded]) -> None:
    settings, s = seeded
    home = settings.home  # type: ignore[attr-defined]
    db = make_engine(settings.database_url)  # type: ignore[attr-defined]
    store = db.url.render_as_string(hide_password=False)
    server = create_server(settings)  # type: ignore[arg-type]
    async with Client(server) as c:
        got = payload(await c.call_tool("get_run", {"run_id": s.a}))
        assert got.get("view_url") is None  # no viewer runs
        links.write_record(home, "http://127.0.0.1:18251", store, "none")  # this process
        got = payload(await c.call_tool("get_run", {"run_id": s.a}))
        assert got["view_url"] == f"http://127.0.0.1:18251/runs/{s.a}"
        listed = payload(await c.call_tool("list_runs", {}))["runs"]
        assert {r["view_url"] for r in listed} == {f"http://127.0.0.1:18251/runs/{r['run_id']}"
                                                   for r in listed}
        res = payload(await c.call_tool("get_results", {"run_id": s.b, "limit": 0}))
        assert res["run"]["view_url"].endswith(f"/runs/{s.b}")
        cmp = (await c.call_tool("compare_dimensions", {"models": ["m-a", "m-b"]}))
        assert payload(cmp)["view_url"] == (
            "http://127.0.0.1:18251/dimensions?models=m-a&models=m-b")
        # a viewer of another store, or one that was killed, is not linked
        links.write_record(home, "http://127.0.0.1:18251", "sqlite:////elsewhere.db", "none")
        assert payload(await c.call_tool("get_run", {"run_id": s.a})).get("view_url") is None
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
        record = links.record_path(home)
        links.write_record(home, "http://127.0.0.1:18251", store, "none")
        data = json.loads(record.read_text())
        record.write_text(json.dumps({**data, "pid": int(dead.stdout)}))
        assert payload(await c.call_tool("get_run", {"run_id": s.a})).get("view_url") is None
    # a viewer removes only its own record
    links.remove_record(home)
    assert record.exists()
    links.write_record(home, "http://127.0.0.1:18251", store, "none")
    links.remove_record(home)
    assert not record.exists()
