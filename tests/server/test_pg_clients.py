"""Many clients on one store at once, on SQLite and on PostgreSQL: two real MCP servers
(`benchdock serve` over stdio) and the CLI (`benchdock run`, interrupted with Ctrl-C or
cancelled with `benchdock cancel`, and its read commands) queue, cancel and read runs of the
`count` benchmark together while workers execute them. Nothing is lost or duplicated: every
queued run exists once, a run whose cancel was accepted ends cancelled (and one cancelled
while queued never ran), no sample is scored twice, and no client sees an error."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from sqlalchemy import text

from benchdock.store import queries as q
from benchdock.store import queue
from benchdock.store.db import make_engine
from benchdock.store.tables import FINAL_STATUSES
from tests.harnesses.engine.test_pg_workers import plugin_site, start_worker, worker_env
from tests.support.fake_endpoint import CountingEndpoint
from tests.support.mcp_json import payload
from tests.support.pgserver import shared_server

EXE = Path(sys.executable).with_name("benchdock")
TASKS_PER_RUN = 5
MCP_RUNS = 8  # per server
CLI_RUNS = 4
# what must never reach a client or a log: a lost race between the clients and the workers
RACE_ERRORS = re.compile(r"IntegrityError|UniqueViolation|duplicate key|deadlock|"
                         r"database is locked|could not serialize")


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return shared_server().url()


def wait_for_workers(url: str, n: int, limit_s: float = 300.0) -> None:
    """Until `n` workers have registered (the home's holds its lock: the clients sharing that
    home start no other). Opening the store here races the workers' own first migration."""
    db = make_engine(url)
    deadline = time.monotonic() + limit_s
    while len(queue.workers(db)) < n:
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.05)
    db.dispose()


def tasks_of(k: int) -> list[str]:
    """Run k's own tasks: no two runs share one, so a scored answer names its sample."""
    return [f"count/{TASKS_PER_RUN * k + i}" for i in range(TASKS_PER_RUN)]


class Ledger:
    """What the clients were told: the runs they queued, and each accepted cancel's answer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queued: list[str] = []
        self.cancels: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []
        self.exit_codes: dict[str, int] = {}  # the CLI's `benchdock run`s
        self.cli_stderr: dict[str, str] = {}  # and what each printed last
        self.resumed: set[str] = set()

    def add(self, run_id: str) -> None:
        with self.lock:
            self.queued.append(run_id)

    def cancelled(self, run_id: str, answer: dict[str, Any]) -> None:
        with self.lock:
            self.cancels[run_id] = answer


async def call(c: Client, tool: str, **args: Any) -> Any:
    res = await c.call_tool(tool, args, raise_on_error=False)
    if res.is_error:
        raise AssertionError(f"{tool}({args}) failed: {res.content}")
    data = payload(res)
    return data.get("result", data)


async def mcp_client(transport: StdioTransport, ks: list[int], ledger: Ledger,
                     resume: bool) -> None:
    """One agent: queues its runs, cancels every third at once and every third once it has
    started, reading the queue, the runs and their results all the while; with `resume`, it
    resumes its first cancelled run at the end."""
    later: list[str] = []
    mine: list[str] = []
    async with Client(transport) as c:
        for j, k in enumerate(ks):
            out = await call(c, "run_benchmark", model="fake", benchmark="count",
                             tasks=tasks_of(k), concurrency=1)
            rid = out["run_id"]
            ledger.add(rid)
            mine.append(rid)
            if j % 3 == 0:
                ledger.cancelled(rid, await call(c, "cancel_run", run_id=rid))
            elif j % 3 == 1:
                later.append(rid)
            await call(c, "list_runs", limit=50)
            await call(c, "get_run", run_id=ledger.queued[0])
            await call(c, "get_results", run_id=rid, limit=5)
        deadline = time.monotonic() + 90
        while later and time.monotonic() < deadline:
            for rid in list(later):
                st = await call(c, "get_run", run_id=rid)
                if st["status"] in FINAL_STATUSES or st["done"] > 0:
                    ledger.cancelled(rid, await call(c, "cancel_run", run_id=rid))
                    later.remove(rid)
            await anyio.sleep(0.05)
        assert not later, f"runs never started: {later}"
        await call(c, "list_workers")
        # its own: a CLI run cancelled and resumed here would end unlike its CLI's exit code
        first = next(r for r in mine if r in ledger.cancels)
        while resume and (await call(c, "get_run", run_id=first))["status"] not in FINAL_STATUSES:
            await anyio.sleep(0.05)
        if resume and (await call(c, "get_run", run_id=first))["status"] == "cancelled":
            await call(c, "resume_run", run_id=first)
            ledger.resumed.add(first)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), *args], env=env, capture_output=True, text=True,
                          timeout=120)


def cli_client(env: dict[str, str], ks: list[int], ledger: Ledger, outputs: list[str]) -> None:
    """A person at the CLI: `benchdock run` for each run, one interrupted with Ctrl-C once it
    is queued, one cancelled from another shell; `runs`, `results` and `workers` between."""
    try:
        procs = []
        for j, k in enumerate(ks):
            p = subprocess.Popen([str(EXE), "run", "count", "--model", "fake", "--tasks",
                                  ",".join(tasks_of(k)), "--show", "0"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            rid = None
            for line in iter(p.stderr.readline, ""):  # type: ignore[union-attr]
                outputs.append(line)
                if m := re.match(r"queued run (\w+):", line):
                    rid = m.group(1)
                    break
            assert rid is not None, f"benchdock run printed no run id: {outputs[-5:]}"
            ledger.add(rid)
            if j == 0:
                p.send_signal(signal.SIGINT)  # Ctrl-C: the CLI cancels its run
            elif j == 1:
                done = cli(env, "cancel", rid)
                outputs.append(done.stdout + done.stderr)
                assert done.returncode == 0, done.stderr
                said = re.match(rf"{rid}: (\w+)", done.stdout)
                assert said is not None, done.stdout
                ledger.cancelled(rid, {"status": said.group(1)})
            procs.append((j, rid, p))
            for args in (["runs", "--limit", "50"], ["results", rid, "--show", "0"], ["workers"]):
                done = cli(env, *args)
                outputs.append(done.stdout + done.stderr)
                assert done.returncode == 0, (args, done.stderr)
        for _, rid, p in procs:
            out, err = p.communicate(timeout=120)
            outputs.append(out + err)
            assert p.returncode in (0, 1), (rid, p.returncode, err[-800:])
            ledger.exit_codes[rid] = p.returncode
            ledger.cli_stderr[rid] = err[-2000:]
    except BaseException as exc:
        ledger.errors.append(f"cli: {type(exc).__name__}: {exc}")


def test_two_servers_and_the_cli_queue_cancel_and_read_at_once(url: str, tmp_path: Path) -> None:
    pg = url.startswith("postgresql")
    ep = CountingEndpoint(0.03)
    cfg = tmp_path / "benchdock.toml"
    # 4 slots: an agent's run holds 1, a CLI run (the endpoint's concurrency by default) all 4
    cfg.write_text(f'[[endpoints]]\nurl = "{ep.url}"\nconcurrency = 4\n')
    site, log = plugin_site(tmp_path / "site"), tmp_path / "scored.log"
    home = tmp_path / "home"
    n_runs = 2 * MCP_RUNS + CLI_RUNS
    env = worker_env(home, url, cfg, site, log) | {
        "BENCHDOCK_COUNT_TASKS": str(TASKS_PER_RUN * n_runs), "BENCHDOCK_LOG_LEVEL": "INFO"}
    # a new store: the workers, servers and CLI commands starting at once all migrate it
    # the clients share `home`, whose worker holds its lock (so they start none); on
    # PostgreSQL a second worker, as on another machine, claims from the same queue
    workers = [start_worker(env, home)]
    if pg:
        workers.append(start_worker(env | {"BENCHDOCK_HOME": str(tmp_path / "home2")},
                                    tmp_path / "home2"))
    ledger, cli_out = Ledger(), []  # type: Ledger, list[str]
    server_logs = [tmp_path / f"server{i}.log" for i in range(2)]
    try:
        wait_for_workers(url, len(workers))
        cli_thread = threading.Thread(target=cli_client, args=(
            env, list(range(2 * MCP_RUNS, n_runs)), ledger, cli_out))

        async def servers() -> None:
            async with anyio.create_task_group() as tg:
                for i in range(2):
                    transport = StdioTransport(command=str(EXE), args=["serve"], env=env,
                                               log_file=server_logs[i], keep_alive=False)
                    tg.start_soon(mcp_client, transport,
                                  list(range(i * MCP_RUNS, (i + 1) * MCP_RUNS)), ledger, i == 0)

        cli_thread.start()
        anyio.run(servers)
        cli_thread.join(180)
        assert not ledger.errors, "\n".join(ledger.errors)
        db = make_engine(url)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(
                r.status not in FINAL_STATUSES for r in q.list_runs(db, limit=200)):
            time.sleep(0.2)
        runs = {r.id: r for r in q.list_runs(db, limit=200)}
        worker_logs = {f"worker {h}": (tmp_path / h / "worker.log").read_text()
                       for h in ("home", "home2") if (tmp_path / h / "worker.log").exists()}
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(30)
            except subprocess.TimeoutExpired:
                w.kill()
        ep.close()
    # every run queued exists once, and nothing else does
    assert len(ledger.queued) == len(set(ledger.queued)) == n_runs
    assert set(runs) == set(ledger.queued)
    assert all(r.status in FINAL_STATUSES for r in runs.values()), {
        r.id: r.status for r in runs.values()}
    assert {r.status for r in runs.values()} <= {"succeeded", "cancelled"}, {
        r.id: (r.status, r.error) for r in runs.values()}
    # an accepted cancel sticks: a run flagged for cancelling while it had not ended ends
    # cancelled, whatever the worker was doing; a run cancelled while queued never ran
    assert len(ledger.cancels) == 2 * sum(j % 3 < 2 for j in range(MCP_RUNS)) + 1
    assert len(ledger.resumed) == 1
    for rid, answer in ledger.cancels.items():
        r = runs[rid]
        if rid in ledger.resumed:  # cancelled, then resumed: it ran to the end
            assert r.status == "succeeded" and not r.cancel_requested, (rid, r.status)
            continue
        if answer["status"] == "succeeded":  # it had ended before: the answer said so
            assert r.status == "succeeded" and not r.cancel_requested, (rid, answer)
            continue
        assert r.status == "cancelled", (rid, answer, r.status)
        # "cancelled" alone does not say the run never started: a worker may have claimed it
        # before the cancel landed and ended it (flagged) before the answer was read. Which
        # of the two came first is not arranged here, so only an answer that itself shows
        # the run had not started (an MCP answer, a RunStatus, has no elapsed_s until a
        # worker claims the run) promises that it never ran; the CLI's names the status only
        from_mcp = "run_id" in answer
        if answer["status"] == "cancelled" and from_mcp and answer.get("elapsed_s") is None:
            assert r.started_at is None and q.count_scored(db, rid) == 0, (rid, answer)
    for rid, r in runs.items():
        assert r.cancel_requested == (r.status == "cancelled"), (rid, r.status)
        if r.status == "succeeded":
            assert q.count_scored(db, rid) == TASKS_PER_RUN, rid
        if rid in ledger.exit_codes:  # the CLI's exit code says how its run ended
            assert ledger.exit_codes[rid] == (0 if r.status == "succeeded" else 1), rid
        elif rid not in ledger.cancels:
            assert r.status == "succeeded", (rid, r.status, r.error)
    assert len(ledger.exit_codes) == CLI_RUNS
    # no sample scored twice (the count benchmark logs every scoring) and every verdict in
    # the store was scored; one row per sample
    lines = log.read_text().splitlines() if log.exists() else []
    answers = Counter(line.split(" ", 1)[1] for line in lines)
    assert answers and max(answers.values()) == 1, answers.most_common(3)
    with db.connect() as conn:
        scored = conn.execute(text("SELECT count(*) FROM sample WHERE verdict IS NOT NULL"))
        assert scored.scalar_one() <= len(lines)
        dup = conn.execute(text("SELECT run_id, task_id, count(*) FROM sample "
                                "GROUP BY run_id, task_id HAVING count(*) > 1")).all()
        assert dup == []
    # no client, server or worker met a race; the CLI and the workers met no error at all
    texts = {"cli": "".join(cli_out), **worker_logs}
    texts |= {p.name: p.read_text() for p in server_logs if p.exists()}
    for name, body in texts.items():
        assert not RACE_ERRORS.search(body), (name, RACE_ERRORS.search(body), body[-2000:])
        if not name.startswith("server"):  # (a server's exit when its client leaves is noisy)
            assert "Traceback" not in body, (name, body[-3000:])
    if pg:  # both workers took part
        holders = {r.worker_id for r in runs.values() if r.worker_id}
        assert len(holders) == 2, holders
    db.dispose()
