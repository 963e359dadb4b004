"""How the test-generation judge starts a test process (installed as `pyjudge/testgen_spawn.py`).

A fresh interpreter per run costs seconds on a loaded machine (pytest alone imports for ~1 s),
so the judge forks a *zygote* before it reads its payload: a process that holds nothing
secret, has imported pytest and run it once, and then forks one test process per run on the
judge's word (the run's file paths, and its two descriptors passed over a unix socket). The
test process then starts in a new session, drops capabilities and runs the suite; the zygote
tells the judge its pid and, later, how it ended. Orphans of a test process come back to the
judge (its subreaper), which kills them.

The tests can signal the zygote (same user): if it dies, stops or says anything unexpected,
the judge stops using it and starts each later run as a fresh interpreter (`ExecProc`), with
the same semantics, only slower. Nothing the zygote says decides a verdict.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # (in the sandbox these are pyjudge's modules)
    from typing import Any

    from benchdock.harnesses.pyjudge import frames, worker
else:
    from . import frames, worker

BOOT = ("import sys,json;d=json.loads(sys.stdin.buffer.read());sys.stdin.close();"
        "ns={'__name__':'benchdock_testgen_child'};"
        "exec(compile(d.pop('src'),'<benchdock-testgen-child>','exec'),ns);ns['main'](d)")


class ExecProc:
    """A test process as a fresh interpreter (`python3 -I -B -c BOOT`, setup on stdin)."""

    def __init__(self, setup: dict[str, Any], env: dict[str, str], fds: tuple[int, int]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-B", "-c", BOOT], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=setup["rundir"],
            env=env, pass_fds=fds, start_new_session=True, preexec_fn=worker.drop_privileges)
        self.pid = self.proc.pid
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(setup).encode())
            self.proc.stdin.close()
        except OSError:
            pass

    def poll(self) -> int | None:
        return self.proc.poll()

    def finish(self) -> int | None:
        _killpg(self.pid)
        return self.proc.wait()


def _killpg(pid: int) -> None:
    for target in (-pid, pid):
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass


class Zygote:
    """The judge's handle on its zygote (None of its methods trust what comes back)."""

    def __init__(self, sources: dict[str, str]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            status = 70
            try:
                ours.close()
                _zygote(theirs, sources)
                status = 0
            finally:
                os._exit(status)
        theirs.close()
        self.pid, self.sock, self.alive = pid, ours, True
        self.buf = b""

    def _line(self, deadline: float) -> str | None:
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.sock], [], [], min(max(left, 0.0), 0.05))
            if not r:
                if left <= 0:
                    return None
                continue
            chunk = self.sock.recv(4096)
            if not chunk:
                return None
            self.buf += chunk
            if len(self.buf) > 4096:
                return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("ascii", "replace")

    def spawn(self, setup: dict[str, Any], env: dict[str, str],
              fds: tuple[int, int]) -> ZygoteProc | None:
        if not self.alive:
            return None
        try:
            self.sock.settimeout(5)
            socket.send_fds(self.sock, [json.dumps({"setup": setup, "env": env}).encode()
                                        + b"\n"], list(fds))
            line = self._line(time.monotonic() + 10)
            pid = int(line.split()[1]) if line and line.startswith("pid ") else None
        except (OSError, ValueError, IndexError):
            pid = None
        if pid is None:
            self.kill()
            return None
        return ZygoteProc(self, pid)

    def kill(self) -> None:
        self.alive = False
        _killpg(self.pid)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        self.sock.close()


class ZygoteProc:
    """A test process the zygote forked: its end comes as `exit STATUS` from the zygote."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote, self.pid = zygote, pid
        self.status: int | None = None

    def poll(self) -> int | None:
        if self.status is None and self.zygote.alive:
            line = self.zygote._line(time.monotonic())
            if line is not None:
                self._parse(line)
        return self.status

    def _parse(self, line: str) -> None:
        if line.startswith("exit "):
            try:
                self.status = int(line.split()[1])
            except (ValueError, IndexError):
                self.zygote.kill()
        else:
            self.zygote.kill()

    def finish(self) -> int | None:
        _killpg(self.pid)
        if self.status is None and self.zygote.alive:
            line = self.zygote._line(time.monotonic() + 5)
            if line is None:
                self.zygote.kill()
            else:
                self._parse(line)
        return self.status


def _zygote(sock: socket.socket, sources: dict[str, str]) -> None:
    frames.close_all_but({sock.fileno()})
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        if fd != null:
            os.dup2(null, fd)
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # as in every test process
    ns: dict[str, Any] = {"__name__": "benchdock_testgen_child"}
    exec(compile(sources["src"], "<benchdock-testgen-child>", "exec"), ns)
    ns["warm_up"]()
    buf = b""
    while True:
        data, fds, _, _ = socket.recv_fds(sock, 1 << 20, 2)
        if not data:
            return
        buf += data
        if b"\n" not in buf:
            for fd in fds:
                os.close(fd)
            continue
        line, buf = buf.split(b"\n", 1)
        msg = json.loads(line)
        pid = os.fork()
        if pid == 0:
            status = 70
            try:
                os.setsid()
                sock.close()
                setup, env = msg["setup"], msg["env"]
                setup["rpc_fd"], setup["report_fd"] = fds[0], fds[1]
                setup["codec"] = sources["codec"]
                os.chdir(setup["rundir"])
                os.environ.clear()
                os.environ.update(env)
                worker.drop_privileges()
                ns["main"](setup)
                status = 0
            finally:
                os._exit(status)
        for fd in fds:
            os.close(fd)
        sock.sendall(f"pid {pid}\n".encode())
        _, status = os.waitpid(pid, 0)
        sock.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
