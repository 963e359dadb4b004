"""Sandboxes on another Docker engine (DOCKER_HOST=tcp:// with mutual TLS).

The engine under test is a second `dockerd` started here: its own data root, exec root,
containerd, pid file and API on a loopback port that answers only clients holding a
certificate of a CA made for this test. The sandbox image is copied into it (`docker save |
docker load`), HumanEval's canonical solutions and a wrong one are judged there, and the
containers are shown to have run on that engine and not on the host's. It proves the TLS
tcp:// path and that nothing of the sandbox relies on the host engine; the second engine is
on the same machine, so it does not prove a network between two machines.

Needs root, `dockerd`, `docker` and `openssl`; BENCHDOCK_REQUIRE_REMOTE_DOCKER=1 turns "cannot
start it here" into a failure. The harnesses that bind-mount host paths refuse a remote
engine up front: those checks need nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from benchdock.harnesses.config import Settings
from benchdock.harnesses.contract.benchmark import Benchmark
from benchdock.harnesses.contract.delegated import SessionContext
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.sandbox import (
    SandboxError,
    open_sandbox,
    refuse_remote_engine,
    remote_engine,
)
from benchdock.harnesses.sandbox.docker_backend import (
    LABEL,
    _client_class,
    docker_client,
    open_container_channel,
)
from benchdock.store.tables import Run

IMAGE = os.environ.get("BENCHDOCK_SANDBOX_IMAGE", "benchdock-sandbox:1")
BASE = "benchdock-base:bookworm"  # .ci/run's offline base of the sandbox image
NOWHERE = "tcp://127.0.0.1:9"  # the discard port: nothing answers, nothing is contacted


# --- the refusal: no engine needed ---------------------------------------------------------


def test_remote_engine_reads_docker_host() -> None:
    assert remote_engine({}) is None
    assert remote_engine({"DOCKER_HOST": "unix:///var/run/docker.sock"}) is None
    assert remote_engine({"DOCKER_HOST": " "}) is None
    assert remote_engine({"DOCKER_HOST": "tcp://10.0.0.7:2376"}) == "tcp://10.0.0.7:2376"
    assert remote_engine({"DOCKER_HOST": "ssh://bench@gpu1"}) == "ssh://bench@gpu1"


def _ctx(sandbox: str) -> SessionContext:
    run = Run(id="r-remote", benchmark="x", benchmark_version="1", dataset_hash="h", model="m",
              endpoint_url="http://127.0.0.1:9/v1")
    settings = Settings.from_env().model_copy(update={"sandbox": sandbox})
    return SessionContext(settings=settings, run=run, proxy_socket=Path("/tmp/none/proxy.sock"),
                          threads=1)


def _aider(ctx: SessionContext) -> object:
    from benchdock.harnesses.benchmarks.aider.session import AiderSession

    return AiderSession(SimpleNamespace(), ctx, {})  # type: ignore[arg-type]


def _bfcl(ctx: SessionContext) -> object:
    from benchdock.harnesses.benchmarks.bfcl.session import BfclSession

    return BfclSession(SimpleNamespace(), ctx)  # type: ignore[arg-type]


def _ifeval(ctx: SessionContext) -> object:
    from benchdock.harnesses.benchmarks.ifeval.session import IfevalSession

    return IfevalSession(SimpleNamespace(), ctx)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "opener", "mounted"), [
    ("aider-polyglot", _aider, "unix socket"), ("bfcl", _bfcl, "unix socket"),
    ("ifeval", _ifeval, "NLTK data")])
@pytest.mark.parametrize("sandbox", ["docker", "auto"])
def test_host_mount_harnesses_refuse_a_remote_engine_up_front(
        name: str, opener: Any, mounted: str, sandbox: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before any process or container starts (the session's constructor): the harness's
    name, why (what it mounts), and what works instead."""
    monkeypatch.setenv("DOCKER_HOST", NOWHERE)
    with pytest.raises(SandboxError) as err:
        opener(_ctx(sandbox))
    why = str(err.value)
    assert why.startswith(f"{name} cannot run its sandbox on the Docker engine at "
                          f"DOCKER_HOST={NOWHERE}"), why
    assert "bind-mounts paths of this machine" in why and mounted in why
    assert "humaneval" in why and "run the benchdock worker on the Docker machine" in why
    assert "BENCHDOCK_SANDBOX=local" in why


@pytest.mark.parametrize(("name", "mounted", "flag"), [
    ("aider-polyglot", "unix socket", "AIDER"), ("bfcl", "unix socket", "BFCL"),
    ("ifeval", "NLTK data", "IFEVAL")])
def test_list_benchmarks_says_a_host_mount_harness_is_not_ready_on_a_remote_engine(
        name: str, mounted: str, flag: str, monkeypatch: pytest.MonkeyPatch,
        polyglot_fixtures: Path) -> None:
    """An agent choosing what to run sees the refusal before it queues anything (with its
    venv and data set up: otherwise what is missing is what it is told first; the polyglot
    exercises are the tests' own tree, as CI's home has none)."""
    from benchdock.harnesses.config import Settings
    from benchdock.harnesses.contract.registry import get_benchmark

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    settings = Settings.from_env()
    bench = get_benchmark(name, settings)
    before = bench.readiness()
    if before is not None:
        if os.environ.get(f"BENCHDOCK_REQUIRE_{flag}") == "1":
            pytest.fail(f"BENCHDOCK_REQUIRE_{flag}=1 but {name} is not set up: {before}")
        pytest.skip(f"{name} is not set up here: {before}")
    monkeypatch.setenv("DOCKER_HOST", NOWHERE)
    why = get_benchmark(name, Settings.from_env()).readiness()
    assert why is not None and why.startswith(f"{name} cannot run its sandbox"), why
    assert mounted in why
    local = Settings.from_env({**os.environ, "BENCHDOCK_SANDBOX": "local"})
    assert get_benchmark(name, local).readiness() is None


def test_local_sandbox_and_local_engine_are_not_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", NOWHERE)
    refuse_remote_engine("bfcl", "x", "local")  # bubblewrap here: the engine is not used
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    refuse_remote_engine("bfcl", "x", "docker")
    monkeypatch.delenv("DOCKER_HOST")
    refuse_remote_engine("bfcl", "x", "auto")


def test_container_with_host_mounts_is_refused_on_a_remote_engine(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The net under every harness: no container with host paths reaches a remote engine."""
    monkeypatch.setenv("DOCKER_HOST", NOWHERE)
    with pytest.raises(SandboxError, match=r"cannot bind-mount this machine's /usr/lib .*"
                                           r"remote Docker engine tcp://127\.0\.0\.1:9"):
        open_container_channel(IMAGE, ["true"], {"/usr/lib": {"bind": "/x", "mode": "ro"}}, {})


def test_ssh_engine_needs_paramiko_or_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    """docker-py imports paramiko for ssh:// even when it shells out to the system's ssh
    (as benchdock has it do): without it, the error says so rather than docker-py's."""
    monkeypatch.setenv("DOCKER_HOST", "ssh://nobody@127.0.0.1:9")
    with pytest.raises(SandboxError) as err:
        docker_client(5)
    if importlib.util.find_spec("paramiko") is None:
        assert "needs paramiko" in str(err.value) and "pip install paramiko" in str(err.value)
    else:  # the system's ssh, refused at the discard port
        assert "no Docker engine answers" in str(err.value)


# --- a second engine behind mutual TLS -----------------------------------------------------


@dataclass
class Engine:
    root: Path
    env: dict[str, str]  # DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH
    port: int
    proc: subprocess.Popen[bytes]
    setup_s: dict[str, float]
    how: str  # how the sandbox image got there


def _required() -> bool:
    return os.environ.get("BENCHDOCK_REQUIRE_REMOTE_DOCKER", "") in ("1", "true", "yes")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certs(d: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as the Docker
    CLI and docker-py expect them in DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem)."""
    d.mkdir(parents=True)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *key, "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "1",
             "-subj", "/CN=benchdock test CA", cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, cn, ext in (("server", "127.0.0.1", "server.ext"), ("client", "client", "client.ext")):
        _openssl("req", *key, "-keyout", f"{name}-key.pem", "-out", f"{name}.csr",
                 "-subj", f"/CN={cn}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
                 "-CAcreateserial", "-out", f"{name}-cert.pem", "-days", "1", "-extfile", ext,
                 cwd=d)
    (d / "client-cert.pem").rename(d / "cert.pem")
    (d / "client-key.pem").rename(d / "key.pem")


def _die_with_parent() -> None:
    """In the engine's process before exec: SIGTERM when the test's process ends, however it
    ends (kill -9 included), so that no engine outlives the test run."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unmount_under(root: Path) -> None:
    """What the engine left mounted under its directories (overlay layers, network
    namespaces), deepest first, so that removing them cannot reach through a mount."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for m in sorted((m for m in mounts if m.startswith(str(root) + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True, timeout=30)


HOST_BRIDGE = Path("/sys/class/net/docker0")  # the host engine's default bridge


def _bridge_name(root: Path) -> str:
    """The second engine's own bridge (interface names are at most 15 characters). With
    `--bridge=none` dockerd deletes `docker0` at start, the host engine's bridge, and every
    later container or `RUN` step on the host engine fails to attach to the network."""
    return "bdrd" + root.name.rsplit("-", 1)[-1][-8:].lower().replace("_", "")[:8]


def stop_engine(root: Path, proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None:
        proc.terminate()  # dockerd stops its containers and its containerd first
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
    pids = root / "exec" / "containerd" / "containerd.pid"  # its containerd, if left behind
    if pids.exists():
        try:
            os.kill(int(pids.read_text().strip()), signal.SIGKILL)
        except (ValueError, ProcessLookupError):
            pass
    _unmount_under(root)
    subprocess.run(["ip", "link", "delete", _bridge_name(root)], capture_output=True, timeout=30)
    shutil.rmtree(root, ignore_errors=True)


def _copy_image(image: str, host: dict[str, str], there: dict[str, str]) -> None:
    """`docker save` from the host's engine piped into `docker load` on the other."""
    save = subprocess.Popen(["docker", "save", image], env=host, stdout=subprocess.PIPE)
    load = subprocess.run(["docker", "load"], env=there, stdin=save.stdout,
                          capture_output=True, timeout=600)
    assert save.stdout is not None
    save.stdout.close()
    if save.wait(timeout=600) != 0 or load.returncode != 0:
        raise RuntimeError(f"could not copy {image} to the second engine: "
                           f"{load.stderr.decode(errors='replace')[-500:]}")


def _clear_stale() -> None:
    """Engines' directories left by a test process killed outright (its engine got SIGTERM:
    see `_die_with_parent`, but nothing removed its files): those whose dockerd is gone."""
    for root in Path(tempfile.gettempdir()).glob("bd-rdocker-*"):
        try:
            if time.time() - root.stat().st_mtime < 600:
                continue  # maybe another test run's, starting
            pid = int((root / "dockerd.pid").read_text().strip())
            os.kill(pid, 0)
            continue  # its engine still runs
        except (OSError, ValueError):
            pass
        stop_engine(root, None)


def start_engine() -> Engine:
    """A second dockerd, mutual TLS on a loopback port, with the sandbox image loaded."""
    _clear_stale()
    missing = [t for t in ("dockerd", "docker", "openssl", "ip") if shutil.which(t) is None]
    if missing:
        raise RuntimeError(f"a second Docker engine needs {', '.join(missing)}")
    if os.geteuid() != 0:
        raise RuntimeError("a second Docker engine needs root")
    # short: containerd's socket lives under the exec root, and unix socket paths are ~100 bytes
    root = Path(tempfile.mkdtemp(prefix="bd-rdocker-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        t0 = time.monotonic()
        certs = root / "certs"
        make_certs(certs)
        port = _free_port()
        bridge = _bridge_name(root)
        made = subprocess.run(["ip", "link", "add", bridge, "type", "bridge"],
                              capture_output=True, text=True, timeout=30)
        if made.returncode != 0:
            raise RuntimeError(f"could not make the second engine's bridge {bridge}: {made.stderr}")
        had_host_bridge = HOST_BRIDGE.exists()
        log = open(root / "dockerd.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            ["dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
             "--pidfile", str(root / "dockerd.pid"), "-H", f"tcp://127.0.0.1:{port}",
             "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
             "--tlscert", str(certs / "server-cert.pem"), "--tlskey", str(certs / "server-key.pem"),
             f"--bridge={bridge}", "--iptables=false", "--ip-masq=false", "--ip-forward=false"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent)
        log.close()  # the engine has its own descriptor
        env = {"DOCKER_HOST": f"tcp://127.0.0.1:{port}", "DOCKER_TLS_VERIFY": "1",
               "DOCKER_CERT_PATH": str(certs)}
        cli = {**os.environ, **env}
        for _ in range(120):
            if proc.poll() is not None:
                raise RuntimeError(f"dockerd exited {proc.returncode}: "
                                   f"{(root / 'dockerd.log').read_text()[-1500:]}")
            if subprocess.run(["docker", "version"], env=cli, capture_output=True,
                              timeout=30).returncode == 0:
                break
            time.sleep(0.5)
        else:
            raise RuntimeError("the second dockerd did not answer in 60 s")
        if had_host_bridge and not HOST_BRIDGE.exists():
            raise RuntimeError("starting the second engine deleted the host engine's docker0")
        t1 = time.monotonic()
        host = {k: v for k, v in os.environ.items() if k not in env}
        # as the README says: the base copied over, then `benchdock build-image` against that
        # engine; without the base here, the sandbox image itself is copied
        base_here = subprocess.run(["docker", "image", "inspect", BASE], env=host,
                                   capture_output=True, timeout=60).returncode == 0
        _copy_image(BASE if base_here else IMAGE, host, cli)
        if base_here:
            cmd = [str(Path(sys.executable).parent / "benchdock"), "build-image", "--base", BASE,
                   "--tag", IMAGE]
            built = subprocess.run(cmd, env=cli, capture_output=True, timeout=600)
            if built.returncode != 0:
                raise RuntimeError(f"benchdock build-image failed on the second engine: "
                                   f"{built.stderr.decode(errors='replace')[-1500:]}")
        t2 = time.monotonic()
        how = f"{BASE} copied, {IMAGE} built there" if base_here else f"{IMAGE} copied"
        return Engine(root, env, port, proc, {"engine": t1 - t0, "image": t2 - t1}, how)
    except BaseException:
        stop_engine(root, proc)
        raise


ONE_ENGINE_LOCK = Path(tempfile.gettempdir()) / "bd-rdocker.lock"
ONE_ENGINE_WAIT_S = 1800.0


def _live_engines() -> list[Path]:
    """Other sessions' second engines still running on this machine."""
    live = []
    for root in Path(tempfile.gettempdir()).glob("bd-rdocker-*"):
        try:
            os.kill(int((root / "dockerd.pid").read_text().strip()), 0)
            live.append(root)
        except (OSError, ValueError):
            pass
    return live


@contextlib.contextmanager
def one_engine_per_machine(wait_s: float = ONE_ENGINE_WAIT_S) -> Iterator[None]:
    """While a second engine runs here, no other test session starts one: test sessions run
    side by side (pytest-xdist keeps this module on one worker; two checkouts' CI runs, or a
    developer's run beside CI, share the machine), and two extra engines loading images at
    once on a small machine is what this arranges against. A lock file serialises sessions
    of this code; an engine of a session that took no lock (older code) is waited out."""
    deadline = time.monotonic() + wait_s
    with open(ONE_ENGINE_LOCK, "w") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"another test session held {ONE_ENGINE_LOCK} for "
                                       f"{wait_s:.0f} s") from None
                time.sleep(2)
        while live := _live_engines():
            if time.monotonic() > deadline:
                raise RuntimeError(f"another session's second engine still runs after "
                                   f"{wait_s:.0f} s: {live}")
            time.sleep(2)
        yield


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(one_engine_per_machine())
            e = start_engine()
        except Exception as exc:
            if _required():
                pytest.fail(f"BENCHDOCK_REQUIRE_REMOTE_DOCKER=1 but no second engine here: {exc}")
            pytest.skip(f"no second Docker engine here: {exc}")
        print(f"second engine: started in {e.setup_s['engine']:.1f} s; {e.how} in "
              f"{e.setup_s['image']:.1f} s")
        try:
            yield e
        finally:
            stop_engine(e.root, e.proc)
            assert not e.root.exists(), f"{e.root} was left behind"


def _client(env: dict[str, str] | None) -> Any:
    """The second engine (`env`, through benchdock's own client), or the host's (None)."""
    import docker

    if env is None:
        return docker.DockerClient(base_url="unix:///var/run/docker.sock", timeout=30)
    return docker_client(30, environment=env)


def test_the_host_engine_keeps_its_network(engine: Engine) -> None:
    """The second engine leaves the host's alone: its default bridge is still there, and a
    container on the host engine still gets a network interface."""
    import docker

    if not HOST_BRIDGE.exists():
        pytest.fail(f"{HOST_BRIDGE} is missing while the second engine runs")
    host = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    out = docker.from_env(environment=host).containers.run(
        IMAGE, ["cat", "/sys/class/net/eth0/address"], remove=True)
    assert out.strip(), out


def test_the_engine_answers_only_with_a_client_certificate(engine: Engine) -> None:
    import docker
    import docker.tls

    remote, host = _client(engine.env), _client(None)
    info = remote.info()
    assert info["DockerRootDir"] == str(engine.root / "data")
    # (its ID is the host's: both read /etc/docker/key.json)
    assert host.info()["DockerRootDir"] != info["DockerRootDir"]
    if "built there" in engine.how:  # its own build, not a copy of the host's image
        assert remote.images.get(IMAGE).id != host.images.get(IMAGE).id
    certs = Path(engine.env["DOCKER_CERT_PATH"])
    tls = docker.tls.TLSConfig(ca_cert=str(certs / "ca.pem"), verify=True)
    with pytest.raises(Exception) as err:  # requests' or ssl's, by TLS version
        _client_class()(base_url=f"https://127.0.0.1:{engine.port}", timeout=10, tls=tls)
    assert "certificate" in str(err.value).lower() or "reset" in str(err.value).lower(), err.value
    with pytest.raises(docker.errors.DockerException):  # plain HTTP to a TLS port
        docker.DockerClient(base_url=f"tcp://127.0.0.1:{engine.port}", timeout=10)


def test_humaneval_judged_on_the_remote_engine(engine: Engine) -> None:
    """Canonical solutions pass and a wrong one fails, judged in sandbox containers that
    the second engine ran and the host's engine never saw."""
    remote, host = _client(engine.env), _client(None)
    owner = f"{socket.gethostname()}:{os.getpid()}"
    since = int(time.time()) - 1
    bench = get_benchmark("humaneval")
    assert isinstance(bench, Benchmark)
    tasks = bench.tasks()[:3]
    with pytest.MonkeyPatch.context() as mp:
        for k, v in engine.env.items():
            mp.setenv(k, v)
        sandbox = open_sandbox("docker", IMAGE, size=2)
        try:
            assert sandbox.kind == "docker"
            bench.prepare(sandbox, tasks)
            for task in tasks:
                right = bench.score(task, bench.extract(task, bench.reference(task)), sandbox)
                assert right.verdict == "pass", (task.id, right)
            wrong = f"```python\ndef {tasks[0].entry_point}(*args):\n    return 'wrong'\n```"
            verdict = bench.score(tasks[0], bench.extract(tasks[0], wrong), sandbox)
            assert verdict.verdict == "fail", verdict
        finally:
            sandbox.close()
    until = int(time.time()) + 1

    def created(client: Any) -> set[str]:
        events = client.events(since=since, until=until, decode=True,
                               filters={"type": "container", "event": "create",
                                        "label": f"{LABEL}.owner={owner}"})
        return {str(e["id"]) for e in events}

    ran_there, ran_here = created(remote), created(host)
    assert ran_there, "the second engine recorded no sandbox container of this test"
    assert not ran_here, f"the host's engine ran {len(ran_here)} of this test's containers"
    # AutoRemove: nothing left behind on the remote engine either
    left = remote.containers.list(all=True, filters={"label": f"{LABEL}.owner={owner}"})
    assert not left, [c.id for c in left]


def test_a_run_of_a_host_mount_harness_ends_at_once_saying_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the real engine: an IFEval run against a remote engine fails before asking
    the model anything, with the refusal as the run's error."""
    import anyio
    import httpx

    from benchdock.harnesses.engine.executor import RunExecutor
    from benchdock.store import queries as q
    from benchdock.store.db import make_engine
    from tests.conftest import make_settings
    from tests.support.ifeval_support import ifeval_env

    ifeval_env()
    asked: list[str] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(500)

    monkeypatch.setenv("DOCKER_HOST", NOWHERE)
    settings = make_settings(tmp_path, "http://fake/v1", sandbox="auto")
    bench = get_benchmark("ifeval", settings)
    ids = [t.id for t in bench.tasks()[:2]]
    db = make_engine(settings.database_url)
    run = Run(id="remote", benchmark="ifeval", benchmark_version=bench.version,
              dataset_hash=bench.dataset_hash(), model="fake", endpoint_url="http://fake/v1",
              task_ids=ids, total=len(ids), status="running", params={"temperature": 0.0})
    q.add_run(db, run)
    executor = RunExecutor(settings, db, run, httpx.MockTransport(endpoint))
    assert anyio.run(executor.execute) == "failed"
    done = q.get_run(db, "remote")
    assert done is not None and done.error is not None
    assert f"ifeval cannot run its sandbox on the Docker engine at DOCKER_HOST={NOWHERE}" \
        in done.error, done.error
    assert not asked, asked
    assert not [s for s in q.all_samples(db, "remote") if s.verdict], "no sample was scored"
