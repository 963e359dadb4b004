"""Building the MCP server. A factory, not a module global, so each test gets its own.

Over HTTP the server is guarded by one shared bearer token, checked by fastmcp's own auth
layer (a `TokenVerifier` passed as `auth=`): fastmcp answers 401 before any tool runs.
Over stdio there is no token: the client started the process and owns it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import stat
from importlib import metadata
from pathlib import Path

from fastmcp import FastMCP
from fastmcp.server.auth import AccessToken, TokenVerifier

from benchdock.harnesses.config import ConfigError, Settings
from benchdock.harnesses.service.operations import Core
from benchdock.tools import register_all

INSTRUCTIONS = """benchdock evaluates the user's local models on real coding benchmarks and
helps choose one on evidence. To choose: list_models -> list_benchmarks (a benchmark that is
not ready names the setup_benchmark call that fixes it, with its cost) -> decide(models,
budget_minutes, priorities): it runs in the background; call decide again with the same
arguments (wait_s up to 45) to read it until status is finished, then use its `choice`. To
measure by hand: plan_evaluation -> run_benchmark -> wait_for_run -> get_results ->
compare_dimensions -> recommend_model. Every result is JSON, sent once."""

HTTP_TOKEN_ENV = "BENCHDOCK_HTTP_TOKEN"
MCP_PATH = "/mcp"  # fastmcp's streamable-HTTP path: clients connect to http://HOST:PORT/mcp
MIN_TOKEN_CHARS = 16
# RFC 6750's b64token: what may follow "Bearer " in an Authorization header.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class SharedToken(TokenVerifier):
    """Accepts exactly one bearer token, compared in constant time.

    fastmcp's `StaticTokenVerifier` looks tokens up in a dict (not constant time, and its
    docstring says it is for testing only); this is the same hook with `hmac.compare_digest`
    over SHA-256 digests, so neither the token's content nor its length shows in the timing.
    """

    def __init__(self, token: str) -> None:
        super().__init__()
        self._digest = hashlib.sha256(token.encode()).digest()

    async def verify_token(self, token: str) -> AccessToken | None:
        if not hmac.compare_digest(hashlib.sha256(token.encode()).digest(), self._digest):
            return None
        return AccessToken(token=token, client_id="benchdock-http-token", scopes=[])


def create_server(settings: Settings | None = None, *, http_token: str | None = None) -> FastMCP:
    """`http_token`: when set, every HTTP request must carry `Authorization: Bearer <token>`."""
    settings = settings or Settings.from_env()
    mcp = FastMCP("benchdock", instructions=INSTRUCTIONS, version=metadata.version("benchdock"),
                  auth=SharedToken(http_token) if http_token else None)
    register_all(mcp, Core(settings))
    return mcp


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe), for `benchdock serve --generate-token`."""
    return secrets.token_urlsafe(32)


def check_token(token: str, source: str) -> str:
    """The token as given, or a ConfigError naming where it came from and what is wrong."""
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"the HTTP token from {source} has {len(token)} characters; use at least "
                          f"{MIN_TOKEN_CHARS} (`benchdock serve --generate-token` makes one)")
    if not _B64TOKEN.fullmatch(token):
        raise ConfigError(f"the HTTP token from {source} has characters a bearer token cannot "
                          "carry (allowed: letters, digits and -._~+/ , then optional =); "
                          "`benchdock serve --generate-token` makes one")
    return token


def http_token(path: str | Path | None, env: dict[str, str]) -> tuple[str | None, list[str]]:
    """The token to require (from `--token-file`, else `BENCHDOCK_HTTP_TOKEN`, else none),
    and notes for stderr. A file wins over the variable, so a global variable can be
    overridden per server."""
    notes: list[str] = []
    if path is not None:
        token_file = Path(path)
        try:
            text = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read --token-file {token_file}: {exc.strerror}") from exc
        if not text:
            raise ConfigError(f"--token-file {token_file} is empty; put a token in it "
                              "(`benchdock serve --generate-token > FILE`)")
        if token_file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            notes.append(f"benchdock: warning: --token-file {token_file} is readable by other "
                         f"users; `chmod 600 {token_file}`")
        return check_token(text, f"--token-file {token_file}"), notes
    value = env.get(HTTP_TOKEN_ENV, "").strip()
    return (check_token(value, HTTP_TOKEN_ENV) if value else None), notes


def is_loopback(host: str) -> bool:
    """Only literal loopback addresses and `localhost` count: any other name could resolve
    to an address others can reach."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, port: int, token: str | None, insecure_no_auth: bool) -> list[str]:
    """Refuse to serve without a token anywhere but loopback; the lines to print on stderr."""
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}{MCP_PATH}"
    if token is not None:
        if insecure_no_auth:
            raise ConfigError(f"--insecure-no-auth asks for no authentication but a token is set "
                              f"({HTTP_TOKEN_ENV} or --token-file); drop one of them")
        return [f"benchdock: serving {url}; requests need `Authorization: Bearer <token>`"]
    if is_loopback(host):
        return [f"benchdock: serving {url} without authentication (loopback only); set "
                f"{HTTP_TOKEN_ENV} or --token-file to require a bearer token"]
    if not insecure_no_auth:
        raise ConfigError(
            f"refusing to serve on {host} without a token: anyone who can reach it could start "
            f"runs (which execute model code) and read every result. Set {HTTP_TOKEN_ENV} or "
            "--token-file (`benchdock serve --generate-token` makes a token), listen on "
            "127.0.0.1, or pass --insecure-no-auth to serve without authentication anyway")
    bar = "!" * 78
    return [bar,
            f"benchdock: WARNING: --insecure-no-auth: serving {url} WITHOUT AUTHENTICATION.",
            f"benchdock: anyone who can reach {host}:{port} can start runs that execute model",
            "benchdock: code, read every result and fill this machine's disk and CPU.",
            f"benchdock: set {HTTP_TOKEN_ENV} or --token-file instead.",
            bar]
