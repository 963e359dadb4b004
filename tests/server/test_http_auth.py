"""`benchdock serve --transport http` behind a bearer token: the real command in a subprocess
on a free port, spoken to by fastmcp's own client and by raw HTTP (to see the status codes).

No token -> 401, wrong token -> 401, right token -> the tools answer; a non-loopback address
without a token is refused at start unless --insecure-no-auth, which warns loudly; stdio is
unchanged (no token there, even when one is configured).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from mcp.shared.exceptions import MCPError

from benchdock.server import app, cli
from tests.support.mcp_json import payload

EXE = Path(sys.executable).with_name("benchdock")
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "test", "version": "1"}}}
MCP_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(home: Path, token: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != app.HTTP_TOKEN_ENV}
    # the endpoint is the discard port: these tests never ask a model anything
    env.update(BENCHDOCK_HOME=str(home), BENCHDOCK_ENDPOINTS="http://127.0.0.1:9/v1",
               BENCHDOCK_SANDBOX="local")
    if token is not None:
        env[app.HTTP_TOKEN_ENV] = token
    return env


@dataclass
class Served:
    url: str  # http://127.0.0.1:PORT/mcp
    proc: subprocess.Popen[bytes]
    log: Path

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


def start(home: Path, *args: str, token: str | None = None) -> Served:
    """`benchdock serve --transport http ARGS`, waited for until its port answers."""
    port = free_port()
    log = home / f"serve-{port}.log"
    with log.open("wb") as err:
        proc = subprocess.Popen([str(EXE), "serve", "--transport", "http", "--port", str(port),
                                 *args], env=env_for(home, token), stdout=err, stderr=err)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"serve exited {proc.returncode}: {log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Served(f"http://127.0.0.1:{port}/mcp", proc, log)
        except OSError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail(f"serve did not listen on {port} in 60 s: {log.read_text(errors='replace')}")


def stop(s: Served) -> None:
    s.proc.terminate()
    try:
        s.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        s.proc.kill()
        s.proc.wait()


def post_initialize(url: str, authorization: str | None = None,
                    host: str | None = None) -> httpx.Response:
    headers = dict(MCP_HEADERS)
    if authorization is not None:
        headers["authorization"] = authorization
    if host is not None:
        headers["host"] = host
    return httpx.post(url, json=INITIALIZE, headers=headers, timeout=30)


async def tool_names_and_benchmarks(url: str, token: str | None) -> tuple[set[str], set[str]]:
    async with Client(url, auth=token) as c:
        names = {t.name for t in await c.list_tools()}
        res = await c.call_tool("list_benchmarks", {})
    assert payload(res)
    return names, {b["id"] for b in payload(res)["benchmarks"]}


TOKEN = app.new_token()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for the module, token from BENCHDOCK_HTTP_TOKEN."""
    s = start(tmp_path_factory.mktemp("home"), token=TOKEN)
    yield s
    stop(s)


def test_no_token_is_refused(guarded: Served) -> None:
    r = post_initialize(guarded.url)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    # another scheme is no token either
    assert post_initialize(guarded.url, f"Basic {TOKEN}").status_code == 401
    assert post_initialize(guarded.url, "Bearer").status_code == 401


async def refused_to_client(s: Served, token: str | None) -> None:
    """fastmcp's client reports a 401 as a generic MCPError: the server's access log (uvicorn
    writes it to the log file) says what the server answered."""
    refused, served = ('"POST /mcp HTTP/1.1" 401', '"POST /mcp HTTP/1.1" 200')
    before = s.stderr()
    with pytest.raises(MCPError, match="Server returned an error response"):
        await tool_names_and_benchmarks(s.url, token)
    after = s.stderr()
    assert after.count(refused) > before.count(refused)
    assert after.count(served) == before.count(served)


@pytest.mark.anyio
async def test_no_token_is_refused_to_an_mcp_client(guarded: Served) -> None:
    await refused_to_client(guarded, None)


# ids, not the tokens: the token is new in every process, and pytest-xdist's workers must
# collect the same test names
@pytest.mark.parametrize("wrong", [
    "x" * 43, TOKEN[:-1], TOKEN + "A", TOKEN.swapcase(), TOKEN[::-1]],
    ids=["other", "one-short", "one-more", "swapped-case", "reversed"])
def test_wrong_token_is_refused(guarded: Served, wrong: str) -> None:
    r = post_initialize(guarded.url, f"Bearer {wrong}")
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    assert "benchdock" not in r.text  # nothing of the server's own answer leaks


@pytest.mark.anyio
async def test_wrong_token_is_refused_to_an_mcp_client(guarded: Served) -> None:
    await refused_to_client(guarded, "y" * 43)


@pytest.mark.anyio
async def test_right_token_works(guarded: Served) -> None:
    names, benchmarks = await tool_names_and_benchmarks(guarded.url, TOKEN)
    assert {"list_benchmarks", "run_benchmark", "get_results"} <= names
    assert {"humaneval", "humaneval-plus", "mbpp-plus"} <= benchmarks
    r = post_initialize(guarded.url, f"Bearer {TOKEN}")
    assert r.status_code == 200 and '"serverInfo":{"name":"benchdock"' in r.text
    assert "requests need `Authorization: Bearer <token>`" in guarded.stderr()
    assert TOKEN not in guarded.stderr()  # the token is never logged


@pytest.mark.anyio
async def test_token_file_wins_over_the_variable(tmp_path: Path) -> None:
    file_token = app.new_token()
    path = tmp_path / "token"
    path.write_text(file_token + "\n")
    path.chmod(0o600)
    s = start(tmp_path, "--token-file", str(path), token=TOKEN)
    try:
        assert post_initialize(s.url, f"Bearer {TOKEN}").status_code == 401
        names, _ = await tool_names_and_benchmarks(s.url, file_token)
        assert "list_benchmarks" in names
        assert "readable by other users" not in s.stderr()
    finally:
        stop(s)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "bench.example.org"])
def test_non_loopback_without_token_is_refused(host: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(app.HTTP_TOKEN_ENV, raising=False)
    monkeypatch.setenv("BENCHDOCK_HOME", str(tmp_path))
    assert cli.main(["serve", "--transport", "http", "--host", host,
                     "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert f"refusing to serve on {host} without a token" in err
    assert "--insecure-no-auth" in err and app.HTTP_TOKEN_ENV in err


def test_refusal_happens_before_listening(tmp_path: Path) -> None:
    """The real command: exits 2 at once, and nothing ever listened on the port."""
    port = free_port()
    done = subprocess.run([str(EXE), "serve", "--transport", "http", "--host", "0.0.0.0",
                           "--port", str(port)], env=env_for(tmp_path), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0 without a token" in done.stderr
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


@pytest.mark.anyio
async def test_insecure_override_serves_without_auth_and_warns(tmp_path: Path) -> None:
    s = start(tmp_path, "--host", "0.0.0.0", "--insecure-no-auth")
    try:
        names, _ = await tool_names_and_benchmarks(s.url, None)
        assert "run_benchmark" in names
        err = s.stderr()
        assert "WARNING: --insecure-no-auth" in err and "WITHOUT AUTHENTICATION" in err
    finally:
        stop(s)


@pytest.mark.anyio
async def test_loopback_without_token_serves_and_guards_host(tmp_path: Path) -> None:
    """Loopback needs no token, but a request addressed to another host (a DNS-rebinding
    page in a browser) is refused by fastmcp's Host guard."""
    s = start(tmp_path)
    try:
        names, _ = await tool_names_and_benchmarks(s.url, None)
        assert "list_benchmarks" in names
        port = s.url.split(":")[2].split("/")[0]
        assert post_initialize(s.url, host=f"attacker.example:{port}").status_code == 421
        assert post_initialize(s.url, host=f"localhost:{port}").status_code == 200
        assert "without authentication (loopback only)" in s.stderr()
    finally:
        stop(s)


@pytest.mark.parametrize(("argv", "token", "message"), [
    (["--insecure-no-auth"], TOKEN, "--insecure-no-auth asks for no authentication"),
    ([], "short", "has 5 characters; use at least 16"),
    ([], "has spaces in it, sixteen+", "characters a bearer token cannot carry"),
    (["--token-file", "/nonexistent/token"], None, "cannot read --token-file"),
], ids=["insecure-with-token", "short", "spaces", "no-token-file"])
def test_bad_configuration_is_refused(argv: list[str], token: str | None, message: str,
                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(app.HTTP_TOKEN_ENV, raising=False)
    if token is not None:
        monkeypatch.setenv(app.HTTP_TOKEN_ENV, token)
    monkeypatch.setenv("BENCHDOCK_HOME", str(tmp_path))
    assert cli.main(["serve", "--transport", "http", "--port", str(free_port()), *argv]) == 2
    assert message in capsys.readouterr().err


def test_empty_or_shared_token_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        app.http_token(empty, {})
    shared = tmp_path / "shared"
    shared.write_text(TOKEN)
    shared.chmod(0o644)
    token, notes = app.http_token(shared, {})
    assert token == TOKEN and "chmod 600" in notes[0]


def test_generate_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--generate-token"]) == 0
    first = capsys.readouterr().out.strip()
    assert cli.main(["serve", "--generate-token"]) == 0
    second = capsys.readouterr().out.strip()
    assert first != second and len(first) >= 43
    assert app.check_token(first, "test") == first


def test_stdio_flags_are_http_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--insecure-no-auth"]) == 2
    assert "apply to --transport http only" in capsys.readouterr().err


@pytest.mark.anyio
async def test_stdio_is_unchanged_even_with_a_token_set(tmp_path: Path) -> None:
    """The client owns a stdio server's process: no token is asked for there."""
    transport = StdioTransport(command=str(EXE), args=["serve"], env=env_for(tmp_path, TOKEN))
    async with Client(transport) as c:
        res = await c.call_tool("list_benchmarks", {})
    assert payload(res)
    assert "humaneval" in {b["id"] for b in payload(res)["benchmarks"]}


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("LOCALHOST", True), ("0.0.0.0", False), ("::", False), ("", False),
    ("192.168.1.20", False), ("10.0.0.1", False), ("localhost.example.org", False)])
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert app.is_loopback(host) is loopback
