"""A real PostgreSQL server for the tests: a throwaway cluster (initdb) started with pg_ctl on
a loopback port, as the unprivileged `postgres` user when the tests run as root (PostgreSQL
refuses to run as root), in a temporary directory removed afterwards.

`PgServer.start()` returns a running server; `url()` names a fresh database in it. Run as a
script it starts one and prints its URL until interrupted (for perf_queue.py by hand).
BENCHDOCK_REQUIRE_POSTGRES=1 (set by .ci/run) turns "PostgreSQL is not here" into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

PG_BIN = Path(os.environ.get("BENCHDOCK_PG_BIN", "/usr/lib/postgresql/15/bin"))
DRIVER = "postgresql+psycopg"


class PgUnavailable(RuntimeError):
    """PostgreSQL's binaries or the driver are missing, or the server would not start."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    def __init__(self, root: Path, port: int, user: str | None) -> None:
        self.root, self.port, self.user = root, port, user
        self.data = root / "data"

    def _cmd(self, *args: str) -> list[str]:
        # as root: run the server's tools as `postgres` (runuser keeps no root privileges)
        return ["runuser", "-u", self.user, "--", *args] if self.user else list(args)

    @classmethod
    def start(cls) -> PgServer:
        if not (PG_BIN / "initdb").exists():
            raise PgUnavailable(f"no PostgreSQL binaries in {PG_BIN} (apt-get install postgresql-15)")
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise PgUnavailable("the psycopg driver is not installed (pip install "
                                "'benchdock[postgres]')") from exc
        user = "postgres" if os.geteuid() == 0 else None
        for attempt in range(2):
            root = Path(tempfile.mkdtemp(prefix="benchdock-pg-"))
            if user:
                shutil.chown(root, user)
            srv = cls(root, _free_port(), user)
            try:
                srv._init_and_run()
                return srv
            except PgUnavailable:
                # the free port may be taken between our probe and the server's bind (test
                # workers in parallel start servers at once): once more, on another port
                srv.stop()
                if attempt:
                    raise
            except Exception:
                srv.stop()
                raise
        raise AssertionError("unreachable")

    def _init_and_run(self) -> None:
        init = subprocess.run(self._cmd(str(PG_BIN / "initdb"), "-D", str(self.data), "-U",
                                        "bench", "--auth=trust", "-E", "UTF8", "--no-sync"),
                              capture_output=True, text=True)
        if init.returncode:
            raise PgUnavailable(f"initdb failed: {init.stderr.strip()[-400:]}")
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                f"-c unix_socket_directories={self.root} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        run = subprocess.run(self._cmd(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", opts,
                                       "-l", str(self.root / "server.log"), "-w", "-t", "30",
                                       "start"), capture_output=True, text=True)
        if run.returncode:
            log = (self.root / "server.log").read_text() if (self.root / "server.log").exists() else ""
            raise PgUnavailable(f"pg_ctl start failed: {run.stderr.strip()[-300:]} {log[-400:]}")

    def url(self, dbname: str | None = None) -> str:
        """A new, empty database in this server."""
        import psycopg

        name = dbname or f"t_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.base_url("postgres").replace(DRIVER, "postgresql"),
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.base_url(name)

    def base_url(self, dbname: str) -> str:
        return f"{DRIVER}://bench@127.0.0.1:{self.port}/{dbname}"

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(self._cmd(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m",
                                     "immediate", "-w", "stop"), capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def required() -> bool:
    return os.environ.get("BENCHDOCK_REQUIRE_POSTGRES", "") in ("1", "true", "yes")


_SERVER: list[PgServer] = []


def shared_server() -> PgServer:
    """The test session's one server (started on first use, stopped at exit); a test that
    needs it fails when BENCHDOCK_REQUIRE_POSTGRES=1 and it cannot start, else skips."""
    import atexit

    import pytest

    if not _SERVER:
        try:
            _SERVER.append(PgServer.start())
        except PgUnavailable as exc:
            if required():
                pytest.fail(f"BENCHDOCK_REQUIRE_POSTGRES=1 but PostgreSQL is not usable: {exc}")
            pytest.skip(f"PostgreSQL not usable: {exc}")
        atexit.register(_SERVER[0].stop)
    return _SERVER[0]


if __name__ == "__main__":
    server = PgServer.start()
    print(server.url("bench"), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
