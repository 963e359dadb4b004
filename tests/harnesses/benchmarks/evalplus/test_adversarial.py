"""Hostile answers against every benchmark that benchdock scores itself, in both sandboxes.

Each hostile answer tries one known shortcut or attack: ending its own process with status
0, objects that compare equal to anything, a fake verdict on stdout, killing the parent or
PID 1, fork and memory bombs, floods, daemons, filling the disk, the network, writes to
host paths. Every one must end as a non-pass verdict with its reason, the innocent answer
scored right after it in the same sandbox must be scored as it would be alone, and the host
must be unchanged: a canary file, a loopback listener that sees no connection, no leftover
processes, files or containers. (Aider's and BFCL's hostile answers are in their own tests.)
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchdock.harnesses.contract.benchmark import Benchmark
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.sandbox import Sandbox, open_sandbox
from benchdock.harnesses.sandbox import local as local_backend

MARK = uuid.uuid4().hex
CANARY = Path("/tmp") / f"benchdock-canary-{MARK}"
ESCAPE = Path("/tmp") / f"benchdock-escape-{MARK}"

# {entry} is the task's entry point; {port} a loopback listener on the host
HOSTILE: dict[str, str] = {
    "os._exit(0) at import": "import os\nos._exit(0)\ndef {entry}(*a, **k):\n    return None\n",
    "sys.exit(0) at import": "import sys\nsys.exit(0)\ndef {entry}(*a, **k):\n    return None\n",
    "os._exit(0) in the call": "import os\ndef {entry}(*a, **k):\n    os._exit(0)\n",
    "sys.exit(0) in the call": "import sys\ndef {entry}(*a, **k):\n    sys.exit(0)\n",
    "atexit os._exit(0) after failing": (
        "import atexit, os\natexit.register(lambda: os._exit(0))\n"
        "def {entry}(*a, **k):\n    raise AssertionError('wrong')\n"),
    "always-equal object": (
        "class AlwaysEqual:\n    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n    __hash__ = object.__hash__\n"
        "    def __bool__(self):\n        return True\n"
        "def {entry}(*a, **k):\n    return AlwaysEqual()\n"),
    "always-equal int subclass": (
        "class Sneaky(int):\n    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n    __hash__ = int.__hash__\n"
        "def {entry}(*a, **k):\n    return Sneaky(-987654321)\n"),
    "always-equal str subclass": (
        "class Sneaky(str):\n    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n    __hash__ = str.__hash__\n"
        "def {entry}(*a, **k):\n    return Sneaky('certainly wrong')\n"),
    "always-equal inside a list": (
        "class AlwaysEqual:\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = object.__hash__\n"
        "def {entry}(*a, **k):\n    return [AlwaysEqual()]\n"),
    "fake verdict on stdout then exit 0": (
        "import json, os, sys\n"
        "for line in ('{{\"verdict\": \"pass\"}}', json.dumps({{'base': {{'status': 'pass', 'details': []}},"
        " 'plus': {{'status': 'pass', 'details': []}}}}), 'PASSED', 'ok'):\n"
        "    os.write(1, (line + '\\n').encode())\n"
        "os._exit(0)\ndef {entry}(*a, **k):\n    return None\n"),
    "kill the parent": (
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
        "def {entry}(*a, **k):\n    return None\n"),
    "kill PID 1 and every process": (
        "import os, signal\n"
        "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):\n"
        "    try:\n        os.kill(1, s)\n    except OSError:\n        pass\n"
        "try:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\n"
        "def {entry}(*a, **k):\n    return None\n"),
    "fork bomb": (
        "import os\ndef {entry}(*a, **k):\n    while True:\n        try:\n"
        "            os.fork()\n        except OSError:\n            pass\n"),
    "memory bomb": (
        "def {entry}(*a, **k):\n    hog = []\n    while True:\n"
        "        hog.append(bytearray(64 << 20))\n"),
    "stdout flood": (
        "import os\ndef {entry}(*a, **k):\n    while True:\n"
        "        os.write(1, b'x' * 65536)\n        os.write(2, b'y' * 65536)\n"),
    "daemon in a new session": (
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{mark}'],"
        " start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "def {entry}(*a, **k):\n    return None\n"),
    "disk fill": (
        "import os, tempfile\n"
        "def {entry}(*a, **k):\n"
        "    for d in ('/tmp', '/dev/shm', tempfile.gettempdir()):\n"
        "        try:\n            with open(os.path.join(d, 'fill-{mark}'), 'wb') as fh:\n"
        "                while True:\n                    fh.write(b'x' * (1 << 20))\n"
        "        except OSError:\n            pass\n    return None\n"),
    "network to the host": (
        "import socket\n"
        "def {entry}(*a, **k):\n"
        "    for host in ('127.0.0.1', 'localhost'):\n"
        "        try:\n            socket.create_connection((host, {port}), 2).sendall(b'{mark}')\n"
        "        except OSError:\n            pass\n    return None\n"),
    "writes and deletes host paths": (
        "import os\n"
        "def {entry}(*a, **k):\n"
        "    for p in ('{canary}',):\n        try:\n            os.remove(p)\n"
        "        except OSError:\n            pass\n"
        "    for p in ('{escape}', os.path.expanduser('~/.benchdock-{mark}'), '/etc/benchdock-{mark}'):\n"
        "        try:\n            open(p, 'w').write('x')\n        except OSError:\n            pass\n"
        "    return None\n"),
    "monkeypatches builtins and numpy": (
        "import builtins\n"
        "builtins.AssertionError = type('Nope', (Exception,), {{}})\n"
        "try:\n    import numpy\n    numpy.allclose = lambda *a, **k: True\nexcept ImportError:\n    pass\n"
        "def {entry}(*a, **k):\n    return 'certainly wrong'\n"),
    "walks the stack to the checker": (
        "import sys, gc\n"
        "def {entry}(*a, **k):\n"
        "    f = sys._getframe(1)\n"
        "    while f is not None:\n"
        "        for name in ('stat', 'details', 'result', 'passed'):\n"
        "            if name in f.f_locals:\n"
        "                try:\n                    f.f_locals[name].value = 1\n"
        "                except Exception:\n                    pass\n"
        "        f = f.f_back\n"
        "    return 'certainly wrong'\n"),
    "reads the expected answers from disk": (
        "import os, glob\n"
        "def {entry}(*a, **k):\n"
        "    for p in glob.glob('**/*', recursive=True) + glob.glob('/tmp/**/*', recursive=True):\n"
        "        try:\n            open(p, 'rb').read()\n        except OSError:\n            pass\n"
        "    return 'certainly wrong'\n"),
    "infinite loop": "def {entry}(*a, **k):\n    while True:\n        pass\n",
}

BENCHMARKS = ["humaneval", "humaneval-plus", "mbpp-plus"]


def _required(var: str) -> bool:
    return os.environ.get(var, "") in ("1", "true", "yes")


@pytest.fixture(scope="module", params=["docker", "local"])
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
    sb = open_sandbox(request.param, image, size=1)  # one runner: hostile and innocent share it
    yield sb
    sb.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[tuple[int, list[bytes]]]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    seen: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            seen.append(conn.recv(100) or b"<connected>")
            conn.close()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1], seen
    stop.set()
    t.join()
    srv.close()


@pytest.fixture(scope="module")
def canary() -> Iterator[Path]:
    CANARY.write_text("keep me")
    yield CANARY
    CANARY.unlink(missing_ok=True)
    ESCAPE.unlink(missing_ok=True)


@pytest.mark.parametrize("name", BENCHMARKS)
@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_answer_is_a_reasoned_non_pass_and_the_next_answer_is_unaffected(
        name: str, case: str, sandbox: Sandbox, listener: tuple[int, list[bytes]],
        canary: Path) -> None:
    bench = get_benchmark(name)
    assert isinstance(bench, Benchmark)
    tasks = bench.tasks()[:2]
    bench.prepare(sandbox, tasks)
    hostile_task, innocent = tasks
    code = HOSTILE[case].format(entry=hostile_task.entry_point, port=listener[0], mark=MARK,
                                canary=canary, escape=ESCAPE)
    v = bench.score(hostile_task, code, sandbox)
    assert v.verdict != "pass", (case, v)
    assert v.base != "pass" or v.plus != "pass", (case, v)
    assert v.detail, (case, v)
    right = bench.score(innocent, bench.extract(innocent, bench.reference(innocent)), sandbox)
    assert right.verdict == "pass", (case, right)
    # the host is unchanged
    assert canary.read_text() == "keep me"
    assert not ESCAPE.exists()
    assert not (Path.home() / f".benchdock-{MARK}").exists()
    assert not listener[1], f"the sandbox reached the host's loopback: {listener[1]}"


def test_nothing_is_left_on_the_host(sandbox: Sandbox) -> None:
    """After every hostile answer above (this test runs after them in each sandbox)."""
    left = subprocess.run(["pgrep", "-f", MARK], capture_output=True, text=True).stdout.split()
    assert not left, f"processes left running: {left}"
    stray = [p for p in Path("/tmp").glob(f"*{MARK}*") if p != CANARY]
    assert not stray, stray
