"""What one job can do to the sandbox, and what it cannot: forge the verdict channel, sink
the pool, or leave anything for the next job. Run against Docker and the local backend
(bubblewrap; the unisolated fallback has its own tests below)."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchdock.harnesses.sandbox import ExecResult, Sandbox, open_sandbox
from benchdock.harnesses.sandbox import local as local_backend


def _required(var: str) -> bool:
    return os.environ.get(var, "") in ("1", "true", "yes")


@pytest.fixture(params=["local", "docker"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    if request.param == "docker":
        image = request.getfixturevalue("docker_image")
    else:
        image = "unused"
        ok, why = local_backend.bwrap_status()
        if not ok:
            if _required("BENCHDOCK_REQUIRE_BWRAP"):
                pytest.fail(f"BENCHDOCK_REQUIRE_BWRAP=1 but bubblewrap is unusable: {why}")
            pytest.skip(f"bubblewrap unusable here: {why}")
    sb = open_sandbox(request.param, image, size=1)
    yield sb
    sb.close()


def run(sb: Sandbox, code: str, timeout: float = 5.0, **kw: object) -> ExecResult:
    return sb.execute({"m.py": code.encode()}, ["python3", "m.py"], timeout, **kw)  # type: ignore[arg-type]


def test_isolation_is_described(sandbox: Sandbox) -> None:
    text = sandbox.isolation
    assert "no network" in text and ("docker" in text or "bubblewrap" in text)


def test_verdict_channel_is_private(sandbox: Sandbox) -> None:
    """Only the judge (the job's first process) holds fd 3; a child it forks after making
    itself non-dumpable cannot reach it through /proc, and stdout never counts."""
    code = r'''
import ctypes, os, sys
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
print('{"verdict": "pass"}', flush=True)
pid = os.fork()
if pid == 0:
    os.close(3)
    for path in ('/proc/%d/fd/3' % os.getppid(), '/proc/1/fd/1'):
        try:
            fd = os.open(path, os.O_WRONLY)
            os.write(fd, b'FORGED')
            print('opened', path, flush=True)
        except OSError as exc:
            print('refused', path, exc.errno, flush=True)
    os._exit(0)
os.waitpid(pid, 0)
os.write(3, b'REAL')
'''
    res = run(sandbox, code, verdict_channel=True)
    assert res.verdict == "REAL", res
    assert "opened" not in res.stdout and res.stdout.count("refused") == 2, res.stdout


def test_no_verdict_channel_unless_asked(sandbox: Sandbox) -> None:
    res = run(sandbox, "import os\ntry:\n    os.write(3, b'x')\nexcept OSError as e:\n    print('no fd', e.errno)")
    assert "no fd 9" in res.stdout and res.verdict is None


def test_killing_the_runner_is_the_samples_fault_and_the_pool_goes_on(sandbox: Sandbox) -> None:
    res = run(sandbox, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
                       "os.kill(1, signal.SIGKILL)\nprint('still here')")
    # under a PID namespace the runner is PID 1 and ignores it; elsewhere it dies
    if res.fault is not None:
        assert "runner died" in res.fault and res.exit_code is None
    after = run(sandbox, "print('next')")
    assert after.stdout == "next\n" and after.fault is None


def test_signals_to_pid_1_do_not_stop_the_runner(sandbox: Sandbox) -> None:
    res = run(sandbox, "import os, signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP,"
                       " signal.SIGQUIT, signal.SIGUSR1, signal.SIGKILL):\n"
                       "    try:\n        os.kill(1, s)\n    except OSError:\n        pass\n"
                       "print('sent')")
    assert res.fault is None and res.stdout == "sent\n"
    assert run(sandbox, "print('alive')").stdout == "alive\n"


def test_stdout_flood_is_capped_while_read(sandbox: Sandbox) -> None:
    res = run(sandbox, "import os\nwhile True:\n    os.write(1, b'x' * 65536)\n    os.write(2, b'y' * 65536)",
              timeout=3.0, max_output=1000)
    assert res.timed_out and res.truncated and res.fault is None
    assert len(res.stdout) == 1000 and len(res.stderr) == 1000
    assert res.duration_s < 6
    assert run(sandbox, "print('next')").stdout == "next\n"


def test_processes_do_not_outlive_their_job(sandbox: Sandbox) -> None:
    code = ("import os, time\n"
            "for _ in range(3):\n"
            "    if os.fork() == 0:\n"
            "        os.setsid()\n"
            "        if os.fork() == 0:\n"
            "            time.sleep(60)\n"
            "        os._exit(0)\n"
            "print('forked')")
    assert run(sandbox, code).stdout == "forked\n"
    res = run(sandbox, "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))")
    pids = eval(res.stdout)
    assert len(pids) == 2, pids  # the runner (PID 1) and this job


def test_files_and_a_full_tmpfs_do_not_reach_the_next_job(sandbox: Sandbox) -> None:
    code = ("import os\n"
            "open('/tmp/planted.py', 'w').write('x = 1')\n"
            "open('/dev/shm/planted', 'w').write('x')\n"
            "os.makedirs('/tmp/locked/inner')\n"
            "os.chmod('/tmp/locked', 0)\n"
            "try:\n"
            "    with open('/tmp/fill', 'wb') as fh:\n"
            "        while True:\n"
            "            fh.write(b'x' * (1 << 20))\n"
            "except OSError as exc:\n"
            "    print('full', exc.errno)\n")
    assert "full 28" in run(sandbox, code, timeout=30).stdout
    res = run(sandbox, "import os\nprint(sorted(os.listdir('/tmp')), os.listdir('/dev/shm'))\n"
                       "open('data.bin', 'wb').write(b'y' * (1 << 20))\nprint('wrote')")
    assert "planted" not in res.stdout and "fill" not in res.stdout and "locked" not in res.stdout
    assert "wrote" in res.stdout, res


def test_planted_modules_do_not_reach_the_next_job(sandbox: Sandbox) -> None:
    sandbox.install_lib({"helper/__init__.py": b"VALUE = 42\n"})
    code = ("import helper, os\n"
            "path = os.path.join(os.path.dirname(helper.__file__), '__init__.py')\n"
            "open(path, 'w').write('VALUE = 666\\n')\n"
            "open(os.path.join(os.path.dirname(path), 'extra.py'), 'w').write('X = 1')\n")
    run(sandbox, code)
    res = run(sandbox, "import helper, importlib.util\nprint(helper.VALUE, importlib.util.find_spec('helper.extra'))")
    assert res.stdout.strip() == "42 None", res


def test_fork_bomb_ends_as_that_jobs_verdict(sandbox: Sandbox) -> None:
    res = run(sandbox, "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
              timeout=3.0)
    assert res.timed_out and res.fault is None
    assert run(sandbox, "print('next')").stdout == "next\n"


def test_no_network_to_a_host_listener(sandbox: Sandbox) -> None:
    """A listener on the host's loopback sees no connection from the sandbox."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.settimeout(0.2)
    port = srv.getsockname()[1]
    seen: list[object] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                seen.append(srv.accept())
            except OSError:
                continue

    stop = threading.Event()
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    res = run(sandbox, f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), 2)\n"
                       "    print('connected')\nexcept OSError as exc:\n    print('refused', exc)")
    stop.set()
    t.join()
    srv.close()
    assert "connected" not in res.stdout and not seen


def test_local_bwrap_leaves_the_host_unchanged(tmp_path: Path) -> None:
    ok, why = local_backend.bwrap_status()
    if not ok:
        if _required("BENCHDOCK_REQUIRE_BWRAP"):
            pytest.fail(f"BENCHDOCK_REQUIRE_BWRAP=1 but bubblewrap is unusable: {why}")
        pytest.skip(why)
    canary = Path("/tmp") / f"benchdock-canary-{uuid.uuid4().hex}"
    canary.write_text("keep me")
    mark = uuid.uuid4().hex
    escape = Path("/tmp") / f"benchdock-escape-{mark}"
    home = Path.home() / f".benchdock-escape-{mark}"
    try:
        with open_sandbox("local", "unused", size=1) as sb:
            code = (f"import os, subprocess\n"
                    f"for p in ({str(canary)!r},):\n"
                    f"    try:\n        os.remove(p)\n    except OSError as exc:\n        print('kept', exc.errno)\n"
                    f"for p in ({str(escape)!r}, {str(home)!r}, '/etc/benchdock-{mark}'):\n"
                    f"    try:\n        open(p, 'w').write('x')\n    except OSError as exc:\n        print('refused', exc.errno)\n"
                    f"subprocess.Popen(['python3', '-c', 'import time; time.sleep(300)', '{mark}'], start_new_session=True)\n"
                    f"print(os.getuid())\n"
                    f"try:\n    print(open('/etc/shadow').read())\nexcept OSError as exc:\n    print('hidden', exc.errno)\n")
            res = run(sb, code)
            assert "65534" in res.stdout, res
            assert "root:" not in res.stdout  # the shadow file is hidden
        assert canary.read_text() == "keep me"
        assert not escape.exists() and not home.exists()
        assert not Path(f"/etc/benchdock-{mark}").exists()
        left = subprocess.run(["pgrep", "-f", mark], capture_output=True, text=True).stdout
        assert not left.strip(), f"processes left: {left}"
    finally:
        canary.unlink(missing_ok=True)
        escape.unlink(missing_ok=True)
        home.unlink(missing_ok=True)


@pytest.fixture
def unisolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.setenv("BENCHDOCK_LOCAL_ISOLATION", "none")
    local_backend.bwrap_status.cache_clear()
    sb = open_sandbox("local", "unused", size=1)
    yield sb
    sb.close()
    local_backend.bwrap_status.cache_clear()


def test_unisolated_fallback_is_recorded_and_leaves_no_processes_or_job_files(
        unisolated: Sandbox) -> None:
    assert "LESS ISOLATED" in unisolated.isolation
    mark = uuid.uuid4().hex
    code = ("import os, subprocess, tempfile\n"
            f"subprocess.Popen(['python3', '-c', 'import time; time.sleep(300)', '{mark}'], start_new_session=True)\n"
            "if os.fork() == 0:\n    os.setsid()\n    os.execvp('sleep', ['sleep', '301', "
            f"'{mark}'])\n"
            "open(os.path.join(tempfile.gettempdir(), 'left.txt'), 'w').write('x')\n"
            "print(os.getcwd())")
    res = run(unisolated, code)
    jobdir = res.stdout.strip()
    assert jobdir and not Path(jobdir).exists()
    left = subprocess.run(["pgrep", "-f", mark], capture_output=True, text=True).stdout
    assert not left.strip(), f"processes left: {left}"
    # a killed runner is this job's fault once it reproduces on a fresh one; the pool goes on
    dead = run(unisolated, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)")
    assert dead.fault and "runner died" in dead.fault and "reproduced" in dead.fault
    assert run(unisolated, "print('next')").stdout == "next\n"


def test_unisolated_as_root_is_refused_unless_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchdock.harnesses.sandbox import SandboxError

    monkeypatch.setattr(local_backend, "bwrap_status", lambda: (False, "bwrap not found"))
    monkeypatch.setattr(local_backend.os, "geteuid", lambda: 0)
    monkeypatch.delenv("BENCHDOCK_LOCAL_ISOLATION", raising=False)
    with pytest.raises(SandboxError, match="BENCHDOCK_LOCAL_ISOLATION=none") as err:
        local_backend.local_isolation()
    assert "bubblewrap" in str(err.value) and "as root" in str(err.value)
    monkeypatch.setenv("BENCHDOCK_LOCAL_ISOLATION", "none")
    isolated, text = local_backend.local_isolation()
    assert not isolated and "LESS ISOLATED" in text
