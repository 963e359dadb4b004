"""One conformance suite, run against every sandbox backend."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from benchdock.harnesses.sandbox import Sandbox, SandboxError, open_sandbox


@pytest.fixture(params=["local", "docker"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    image = request.getfixturevalue("docker_image") if request.param == "docker" else "unused"
    sb = open_sandbox(request.param, image, size=2)
    yield sb
    sb.close()


def run(sb: Sandbox, code: str, timeout: float = 5.0, **kw: object) -> object:
    return sb.execute({"main.py": code.encode()}, ["python3", "main.py"], timeout, **kw)  # type: ignore[arg-type]


def test_exit_code_stdout_and_stderr(sandbox: Sandbox) -> None:
    res = sandbox.execute({"main.py": b"import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)"},
                          ["python3", "main.py"], 5)
    assert (res.exit_code, res.stdout, res.stderr, res.timed_out) == (3, "out\n", "err\n", False)


def test_stdin_and_files(sandbox: Sandbox) -> None:
    res = sandbox.execute({"main.py": b"import sys\nprint(open('data/x.txt').read() + sys.stdin.read())",
                           "data/x.txt": b"file:"}, ["python3", "main.py"], 5, stdin="stdin")
    assert res.stdout.strip() == "file:stdin"


def test_timeout_is_hard_and_recorded(sandbox: Sandbox) -> None:
    res = sandbox.execute({"main.py": b"import time\nwhile True: time.sleep(0.01)"},
                          ["python3", "main.py"], 1.0)
    assert res.timed_out and res.exit_code is None
    assert 0.9 < res.duration_s < 5


def test_output_is_capped(sandbox: Sandbox) -> None:
    res = sandbox.execute({"main.py": b"print('x' * 100000)"}, ["python3", "main.py"], 5, max_output=1000)
    assert res.truncated and len(res.stdout) == 1000


def test_memory_limit(sandbox: Sandbox) -> None:
    res = sandbox.execute({"main.py": b"x = bytearray(600 * 1024 * 1024)\nprint('allocated')"},
                          ["python3", "main.py"], 10, mem_bytes=256 << 20)
    assert res.exit_code != 0 and "MemoryError" in res.stderr


def test_lib_is_importable(sandbox: Sandbox) -> None:
    sandbox.install_lib({"helper/__init__.py": b"VALUE = 41 + 1\n"})
    res = sandbox.execute({"main.py": b"import helper; print(helper.VALUE)"}, ["python3", "main.py"], 5)
    assert res.stdout.strip() == "42"


def test_jobs_do_not_see_each_other(sandbox: Sandbox) -> None:
    sandbox.execute({"main.py": b"open('left.txt', 'w').write('x')"}, ["python3", "main.py"], 5)
    res = sandbox.execute({"main.py": b"import os; print(os.path.exists('left.txt'))"},
                          ["python3", "main.py"], 5)
    assert res.stdout.strip() == "False"


def test_closed_sandbox_refuses(sandbox: Sandbox) -> None:
    sandbox.close()
    with pytest.raises(SandboxError):
        sandbox.execute({"main.py": b"print(1)"}, ["python3", "main.py"], 5)


def test_docker_isolation(docker_image: str) -> None:
    """What only the container gives: no network, read-only root, not root."""
    with open_sandbox("docker", docker_image, size=1) as sb:
        net = sb.execute({"m.py": b"import socket; socket.create_connection(('1.1.1.1', 53), 2)"},
                         ["python3", "m.py"], 10)
        assert net.exit_code != 0 and "unreachable" in net.stderr.lower()
        ro = sb.execute({"m.py": b"open('/usr/x', 'w')"}, ["python3", "m.py"], 5)
        assert "Read-only file system" in ro.stderr
        who = sb.execute({"m.py": b"import os; print(os.getuid())"}, ["python3", "m.py"], 5)
        assert who.stdout.strip() == "65534"


def test_docker_containers_removed_on_close(docker_image: str) -> None:
    from benchdock.harnesses.sandbox.docker_backend import LABEL, docker_client

    client = docker_client()
    sb = open_sandbox("docker", docker_image, size=2)
    owner = f"{LABEL}.owner={socket.gethostname()}:{os.getpid()}"  # not other runs' containers
    mine = [c for c in client.containers.list(filters={"label": [LABEL, owner]})]
    assert len(mine) >= 2
    ids = {c.id for c in mine}
    sb.close()
    left = {c.id for c in client.containers.list(all=True, filters={"label": LABEL})}
    assert not (ids & left)


def test_background_jobs_yield_the_cpu(sandbox: Sandbox) -> None:
    """While the model generates, jobs run at nice 19 (so a model thread on the same CPU keeps
    it); before and after, at the runner's own niceness."""
    code = "import os; print(os.nice(0))"

    def niceness() -> int:
        # what this checks is the niceness, not the speed: a job at nice 19 and the lowest CPU
        # weight on a machine whose cores are busy may wait many seconds for its turn
        res: Any = run(sandbox, code, timeout=120)
        assert res.exit_code == 0 and not res.timed_out, res
        return int(res.stdout.strip())

    base = niceness()
    sandbox.set_background(True)
    try:
        assert niceness() == min(19, base + 19)
    finally:
        sandbox.set_background(False)
    assert niceness() == base


def test_docker_pool_gets_the_lowest_cpu_weight_in_the_background(docker_image: str) -> None:
    from benchdock.harnesses.sandbox.docker_backend import (
        BACKGROUND_CPU_SHARES,
        DEFAULT_CPU_SHARES,
        _ContainerChannel,
    )

    with open_sandbox("docker", docker_image, size=2) as sb:
        def shares() -> list[int]:
            out = []
            for ch in sb._all:
                assert isinstance(ch, _ContainerChannel)
                ch.container.reload()
                out.append(int(ch.container.attrs["HostConfig"]["CpuShares"] or DEFAULT_CPU_SHARES))
            return out

        assert shares() == [DEFAULT_CPU_SHARES] * 2
        sb.set_background(True)
        assert shares() == [BACKGROUND_CPU_SHARES] * 2
        sb.set_background(False)
        assert shares() == [DEFAULT_CPU_SHARES] * 2
