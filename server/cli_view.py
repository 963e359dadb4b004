"""`benchdock view`: the viewer, a local web app over the store (server/viewer/)."""

from __future__ import annotations

import argparse
import os
import sys

from benchdock.harnesses.config import Settings

DEFAULT_PORT = 8766  # beside the MCP server's 8765


def cmd_view(args: argparse.Namespace) -> int:
    from benchdock.server import app
    from benchdock.server.viewer.serve import check_bind, serve

    token, notes = app.http_token(args.token_file, dict(os.environ))
    notes += check_bind(args.host, token, args.insecure_no_auth)
    sys.stderr.write("\n".join(notes) + "\n")
    serve(Settings.from_env(), args.host, args.port, token, args.url)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    s = sub.add_parser("view", help="a local web app over the store: runs live, samples, "
                       "trajectories, models side by side, dimensions, decisions")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on; anything but loopback needs the token")
    s.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"default {DEFAULT_PORT}; 0: any free port (the URL is printed)")
    s.add_argument("--token-file", default=None, help=(
        "require this file's bearer token (else BENCHDOCK_HTTP_TOKEN): the same token as "
        "`benchdock serve --transport http`"))
    s.add_argument("--insecure-no-auth", action="store_true",
                   help="serve a non-loopback address without a token")
    s.add_argument("--url", default=None, help=(
        "the base URL links in MCP results point to (default: the address listened on)"))
    s.set_defaults(fn=cmd_view)
