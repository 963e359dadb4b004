"""The local backend: the runner on this machine, under bubblewrap where the OS allows it.

With bubblewrap (Debian's `bubblewrap`; unprivileged user namespaces) each runner gets: no
network (its own network namespace, loopback only), a read-only view of the host with home
directories and a few secrets hidden, a private `/tmp` and `/dev/shm` (size-limited tmpfs),
its own PID namespace in which the runner is PID 1 (so `kill(-1)` ends everything a job left,
and nothing outlives the runner: `--die-with-parent`), no capabilities, and per-job rlimits
on memory, processes and file size. Where bubblewrap is missing or cannot create namespaces
the runner is a plain subprocess — LESS ISOLATED: the code can read and write the user's
files and reach the network — but still leaves nothing behind: it runs in a directory of its
own that is wiped after each job, and the runner, as a child subreaper, kills every process
a job left. Runs record which of the two was used (`isolation`).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading

from benchdock.harnesses.sandbox.base import RUNNER_SOURCE, Channel, Sandbox, SandboxError
from benchdock.harnesses.sandbox.spawn import popen

log = logging.getLogger("benchdock.sandbox")

# benchdock's own interpreter comes first: it has what EvalPlus's checker imports.
_PATH = os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"])
TMPFS_BYTES = 512 << 20
SHM_BYTES = 64 << 20
NPROC = 512  # per sandbox: bubblewrap's user namespace counts only its own processes
# hidden from the read-only view of the host (bind-mounted back where the interpreter lives)
HIDDEN_DIRS = ("/home", "/root", "/run", "/var/run", "/var/tmp", "/mnt", "/media",
               "/srv", "/etc/ssh", "/etc/ssl/private", "/var/lib", "/var/log", "/var/mail",
               "/var/spool", "/var/backups", "/var/cache")
HIDDEN_FILES = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-",
                "/etc/sudoers", "/etc/master.passwd")

ISOLATED = ("bubblewrap: no network, read-only host view (homes hidden), private /tmp, "
            "own PID namespace, no capabilities, rlimits on memory, processes and file size")
UNISOLATED = ("plain subprocess (LESS ISOLATED: no bubblewrap here{why}): the code can read "
              "and write your files and reach the network; its job directory is wiped and "
              "the processes it leaves are killed")


def _needed_paths() -> list[str]:
    """What the runner needs to see under hidden directories: benchdock's interpreter."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable))}
    return sorted(p for p in paths if p and os.path.isdir(p))


def bwrap_argv(writable: list[str] | None = None, env: dict[str, str] | None = None,
               tmpfs_bytes: int = TMPFS_BYTES, readable: list[str] | None = None) -> list[str]:
    """The bubblewrap command line (before the program to run)."""
    argv = ["bwrap", "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--uid", "65534", "--gid", "65534",
            "--hostname", "benchdock-sandbox", "--die-with-parent", "--new-session",
            "--as-pid-1", "--cap-drop", "ALL", "--ro-bind", "/", "/"]
    for d in HIDDEN_DIRS:
        if os.path.isdir(d) and not os.path.islink(d):
            argv += ["--tmpfs", d]
    for f in HIDDEN_FILES:
        if os.path.isfile(f):
            argv += ["--ro-bind", "/dev/null", f]
    argv += ["--size", str(tmpfs_bytes), "--tmpfs", "/tmp", "--dev", "/dev",
             "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm", "--proc", "/proc"]
    for p in sorted({*_needed_paths(), *(readable or [])}):
        if os.path.exists(p):
            argv += ["--ro-bind", p, p]
    for p in writable or []:
        argv += ["--bind", p, p]
    argv += ["--chdir", "/tmp", "--clearenv"]
    for k, v in (env or {}).items():
        argv += ["--setenv", k, v]
    return [*argv, "--"]


@functools.cache
def bwrap_status() -> tuple[bool, str]:
    """Whether bubblewrap can make a sandbox here (tried once per process), and why not."""
    if os.environ.get("BENCHDOCK_LOCAL_ISOLATION", "auto") == "none":
        return False, "BENCHDOCK_LOCAL_ISOLATION=none"
    if shutil.which("bwrap") is None:
        return False, "bwrap not found; install Debian's bubblewrap package"
    try:
        proc = subprocess.run([*bwrap_argv(), sys.executable, "-c", "print('ok')"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap failed to start: {exc}"
    if proc.returncode != 0 or proc.stdout.strip() != "ok":
        return False, f"bwrap cannot create namespaces here: {proc.stderr.strip()[-300:]}"
    return True, "ok"


class _ProcessChannel(Channel):
    """A runner (or, for reference harnesses, another JSON-lines program) as a subprocess,
    under bubblewrap when `isolated`."""

    def __init__(self, argv: list[str] | None = None, env: dict[str, str] | None = None,
                 isolated: bool = False, writable: list[str] | None = None,
                 readable: list[str] | None = None, tmpfs_bytes: int = TMPFS_BYTES) -> None:
        super().__init__()
        argv = argv or [sys.executable, "-u", "-c", RUNNER_SOURCE]
        if isolated:
            self.dir = ""
            full = {"BENCHDOCK_RUNNER_DIR": "/tmp", "BENCHDOCK_RUNNER_WIPE": "/tmp:/dev/shm",
                    "BENCHDOCK_RUNNER_NPROC": str(NPROC), "PATH": _PATH, "HOME": "/tmp",
                    "LANG": "C.UTF-8", **(env or {})}
            cmd = [*bwrap_argv(writable, full, tmpfs_bytes, readable), *argv]
            popen_env, cwd = None, None
        else:
            self.dir = tempfile.mkdtemp(prefix="benchdock-sbx-")
            popen_env = {"BENCHDOCK_RUNNER_DIR": self.dir, "PATH": _PATH, "HOME": self.dir,
                         "TMPDIR": self.dir, **(env or {})}
            cmd, cwd = argv, self.dir
        # forked by the spawner thread: bubblewrap's --die-with-parent follows the forking
        # thread, and the worker thread calling here may retire long before the runner
        self.proc = popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=popen_env, start_new_session=True, cwd=cwd,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("utf-8", "replace"))
        self.lines.put(None)

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def local_isolation() -> tuple[bool, str]:
    """(isolated, description) for the local backend on this machine. Unisolated as root is
    refused unless asked for by name: the model's code would run as root on the host (one
    hostile answer could empty any file any process holds open)."""
    ok, why = bwrap_status()
    if ok:
        return True, ISOLATED
    if os.geteuid() == 0 and os.environ.get("BENCHDOCK_LOCAL_ISOLATION") != "none":
        raise SandboxError(
            f"the local sandbox has no isolation here ({why}) and benchdock runs as root, so "
            "the model's code would run as root on this machine. Install bubblewrap (Debian: "
            "apt-get install bubblewrap) or use Docker (BENCHDOCK_SANDBOX=docker, `benchdock "
            "build-image`); to run it unisolated anyway, set BENCHDOCK_LOCAL_ISOLATION=none")
    return False, UNISOLATED.format(why=f": {why}")


def open_process_channel(argv: list[str], env: dict[str, str], *,
                         writable: list[str] | None = None, readable: list[str] | None = None,
                         tmpfs_bytes: int = TMPFS_BYTES) -> Channel:
    """One subprocess running `argv`, talking JSON lines on stdin/stdout: under bubblewrap
    when it works here — `readable` paths bound back read-only where the host view hides
    them (a managed venv under a home directory, a toolchain in ~/.cargo), `writable` ones
    read-write (a proxy's socket directory) — else a plain subprocess in its own session."""
    isolated, _ = local_isolation()
    return _ProcessChannel(argv, env, isolated=isolated, writable=writable, readable=readable,
                           tmpfs_bytes=tmpfs_bytes)


class LocalSandbox(Sandbox):
    kind = "local"

    def __init__(self, size: int = 2) -> None:
        super().__init__(size)
        self.isolated, self.isolation = local_isolation()
        if not self.isolated:
            log.warning("local sandbox: %s", self.isolation)

    def _open_channel(self) -> Channel:
        return _ProcessChannel(isolated=self.isolated)
