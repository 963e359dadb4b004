"""Serving the viewer: who may reach it (the same rules and the same token as `benchdock
serve --transport http`), uvicorn on a socket bound here, and the record in BENCHDOCK_HOME
that lets MCP results link to it while it runs."""

from __future__ import annotations

import logging
import signal
import socket
import sys

import uvicorn

from benchdock.harnesses.config import ConfigError, Settings
from benchdock.harnesses.service import links
from benchdock.server.app import HTTP_TOKEN_ENV, is_loopback
from benchdock.server.viewer.app import create_viewer

WILDCARDS = ("0.0.0.0", "::", "")

log = logging.getLogger("benchdock.viewer")


def check_bind(host: str, token: str | None, insecure_no_auth: bool) -> list[str]:
    """Refuse to show the store anywhere but loopback without a token; lines for stderr."""
    if token is not None:
        if insecure_no_auth:
            raise ConfigError(f"--insecure-no-auth asks for no authentication but a token is set "
                              f"({HTTP_TOKEN_ENV} or --token-file); drop one of them")
        return ["benchdock view: a browser logs in once with the token (the login page); "
                "scripts send `Authorization: Bearer <token>`"]
    if is_loopback(host):
        return [f"benchdock view: no authentication (loopback only); set {HTTP_TOKEN_ENV} or "
                "--token-file to require the token"]
    if not insecure_no_auth:
        raise ConfigError(
            f"refusing to serve the viewer on {host} without a token: anyone who can reach it "
            "could read every answer and result and cancel or resume runs. Set "
            f"{HTTP_TOKEN_ENV} or --token-file (the same token as `benchdock serve --transport "
            "http`; `benchdock serve --generate-token` makes one), listen on 127.0.0.1, or pass "
            "--insecure-no-auth to serve without authentication anyway")
    bar = "!" * 78
    return [bar, f"benchdock view: WARNING: --insecure-no-auth: serving {host} WITHOUT "
            "AUTHENTICATION:", "anyone who can reach it reads every result and can cancel runs.",
            bar]


def public_url(host: str, port: int, url: str | None) -> str:
    """The base URL links point to: `url` if given, else the address listened on (this
    machine's name for a wildcard address)."""
    if url:
        return url.rstrip("/")
    name = socket.gethostname() if host in WILDCARDS else host
    return f"http://{f'[{name}]' if ':' in name else name}:{port}"


def _exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def serve(settings: Settings, host: str, port: int, token: str | None,
          url: str | None = None) -> None:
    """Serve until interrupted; the record in BENCHDOCK_HOME exists while it does."""
    from benchdock.store.db import make_engine

    db = make_engine(settings.database_url)
    app = create_viewer(settings, db, token=token, warm_charts=True)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            proxy_headers=False, server_header=False)
    sock = config.bind_socket()
    base = public_url(host, sock.getsockname()[1], url)
    links.write_record(settings.home, base, db.url.render_as_string(hide_password=False),
                       "token" if token else "none")
    # uvicorn stops gracefully on SIGTERM, then raises the signal again under the handler
    # that was there before it: make that an exit, so `finally` removes the record
    signal.signal(signal.SIGTERM, _exit)
    try:
        # stdout: the URL alone on its line (scripts wait for it), as demo-server does
        sys.stdout.write(f"{base}/runs\n")
        sys.stdout.flush()
        log.info("viewer of %s at %s", db.url.render_as_string(), base)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        links.remove_record(settings.home)
        sock.close()
