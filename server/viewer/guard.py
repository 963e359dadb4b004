"""Who may see the viewer and act through it.

With a token (the HTTP transport's: `--token-file` or BENCHDOCK_HTTP_TOKEN, one token for
both), every request needs it: as `Authorization: Bearer <token>` (scripts), or as the
session cookie the login page sets once the token is typed in (a browser cannot put a
header on a link it follows). The cookie holds an HMAC of the token, not the token; it is
HttpOnly and SameSite=Strict, so another site's page can neither read it nor make the
browser send it. A wrong bearer token is answered 401; a browser without a session is sent
to the login page.

Without a token the viewer listens on loopback only (`serve.check_bind` refuses anything
else unless told `--insecure-no-auth`). A page on another site could still reach a loopback
server from the user's browser: requests whose Host is not this server's loopback name are
refused (DNS rebinding), and so is any state-changing request (cancel, resume, login) whose
Origin is another site's (cross-site request forgery).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp

from benchdock.server.app import is_loopback

COOKIE = "benchdock_view"
OPEN_PATHS = ("/login", "/static")  # reachable without a session (a stylesheet and htmx)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def session_value(token: str) -> str:
    """What the session cookie holds: proof the token was given, not the token."""
    return hmac.new(token.encode(), b"benchdock-viewer-session", hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time equality (over digests: the length does not show either)."""
    return hmac.compare_digest(hashlib.sha256(a.encode()).digest(),
                               hashlib.sha256(b.encode()).digest())


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this server, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class Guard(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp, token: str | None) -> None:
        super().__init__(app)
        self.token = token
        self.session = session_value(token) if token else None

    def authorized(self, request: Request) -> bool | None:
        """True: token or session given; False: a wrong bearer token; None: nothing given."""
        if self.token is None:
            return True
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, value = header.partition(" ")
            return scheme.lower() == "bearer" and same(value.strip(), self.token)
        cookie = request.cookies.get(COOKIE)
        if cookie and self.session and same(cookie, self.session):
            return True
        return None

    def foreign(self, request: Request) -> str | None:
        """Why a request must be refused as coming from another site, if it must."""
        host = request.headers.get("host", "")
        if self.token is None:
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if not (is_loopback(name) or name in LOOPBACK_NAMES):
                return f"Host {host!r} is not this loopback server (DNS rebinding?)"
        if request.method not in SAFE_METHODS:
            origin = request.headers.get("origin")
            fetch_site = request.headers.get("sec-fetch-site")
            if fetch_site not in (None, "same-origin", "none"):
                return "a state-changing request from another site"
            # "null": an opaque origin (a sandboxed frame, a data: page) unless the browser
            # itself says the request is this site's
            if origin == "null" and fetch_site != "same-origin":
                return "a state-changing request from an opaque origin"
            if origin not in (None, "null") and urlsplit(origin).netloc != host:
                return f"a {request.method} from {origin!r}, another site"
        return None

    async def dispatch(self, request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        why = self.foreign(request)
        if why is not None:
            return PlainTextResponse(f"refused: {why}", status_code=403)
        path = request.url.path
        if not any(path == p or path.startswith(p + "/") for p in OPEN_PATHS):
            ok = self.authorized(request)
            if ok is False:
                return PlainTextResponse(
                    "wrong token: this viewer needs the bearer token of `benchdock serve "
                    "--transport http` (--token-file or BENCHDOCK_HTTP_TOKEN)", status_code=401,
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
            if ok is None:
                if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                    target = path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
                return PlainTextResponse("this viewer needs a bearer token", status_code=401,
                                         headers={"WWW-Authenticate": "Bearer"})
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on this
        # site's own form posts
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
