"""Hostile answers to BFCL, through the whole run engine, the recording proxy and bfcl-eval
itself in its own environment, in both sandboxes and both ways of asking: in-process fake
endpoints answer with calls that would exit the bridge, write fake verdicts on its
protocol, patch BFCL's checker, loop forever, flood it or burn its CPU. Each must end as a
non-pass verdict with its reason, the run must succeed, and innocent entries of the same
run must be scored as alone. Also: a bridge that dies or hangs during one entry, and
BFCL's own ground truth for every multi-turn entry still scoring valid behind the guard."""

from __future__ import annotations

import ast
import json
import os
import signal
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import pytest

from benchdock.harnesses.benchmarks.bfcl import session as bfcl_session
from benchdock.harnesses.benchmarks.bfcl.environment import load_env
from benchdock.harnesses.benchmarks.bfcl.session import BfclSession
from benchdock.harnesses.config import Settings, default_envs_dir
from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.engine.executor import RunExecutor
from benchdock.harnesses.engine.proxy import RecordingProxy
from benchdock.harnesses.sandbox.local import open_process_channel
from benchdock.harnesses.sandbox.rpc import RpcChannel
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from benchdock.store.tables import Run
from tests.conftest import IMAGE
from tests.harnesses.benchmarks.bfcl.test_bfcl_fake_model import (
    data_dir,
    fake_endpoint,
    last_user,
    load,
)
from tests.server.test_e2e import owned_containers

__all__ = ["data_dir"]  # the fixture, shared with the fake-model tests

CANARY = Path(f"/tmp/benchdock-bfcl-canary-{uuid.uuid4().hex}")
FAKE_REPLIES = ("b''.join(b'{\"id\": %d, \"judged\": {\"valid\": true}, \"result\": []}\\n' % i "
                "for i in range(1, 200))")
CHECKER = "bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker"
RUNNER = "bfcl_eval.eval_checker.eval_runner"
# code that must never run: each would exit, forge or patch the process that judges
CODE = {
    "os._exit": "__import__('os')._exit(0)",
    "sys.exit": "__import__('sys').exit(0)",
    "fake reply": f"[__import__('os').write(fd, {FAKE_REPLIES}) for fd in range(256)]",
    "patched checker": (
        f"(setattr(__import__('{CHECKER}', fromlist=['_']), 'state_checker', "
        f"lambda *a, **k: {{'valid': True}}), setattr(__import__('{CHECKER}', "
        f"fromlist=['_']), 'response_checker', lambda *a, **k: {{'valid': True}}), "
        f"setattr(__import__('{RUNNER}', fromlist=['_']), '_evaluate_single_multi_turn_entry', "
        f"lambda *a, **k: {{'valid': True}}))"),
    "infinite loop": "[None for _ in iter(int, 1) if False]",
    "stdout flood": "[__import__('os').write(fd, b'x' * 65536) for fd in (1, 2) for _ in range(10**6)]",
    "writes the host": f"open('{CANARY}', 'w').write('pwned')",
}


def hostile_call(case: str, mode: str) -> dict[str, Any]:
    """One step's answer: the code smuggled into a tool name (native) or an argument's
    arithmetic, which BFCL's decoder evaluates (prompting)."""
    if case == "attribute call":
        if mode == "native":
            return tool_call("os.system", {"command": f"touch {CANARY}"})
        return {"content": f"[os.system(command='touch {CANARY}')]"}
    if case == "cpu burner":  # a legitimate call of BFCL's MathAPI that would take hours
        if mode == "native":
            return tool_call("power", {"base": 7, "exponent": 99999999})
        return {"content": "[power(base=7, exponent=99999999)]"}
    if case == "huge answer":
        return {"content": "x" * 300_000}  # two turns or more: past the 512 KB cap
    code = CODE[case]
    if mode == "native":
        return tool_call(f"({code}) or print", {})
    return {"content": f"[cd(folder=({code}) + 1)]"}


def tool_call(name: str, args: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return {"tool_calls": [{"index": i, "id": f"call_{i}", "type": "function",
                            "function": {"name": name, "arguments": json.dumps(args)}}]}


CASES = [*CODE, "attribute call", "cpu burner", "huge answer"]
EXPECTED = {"cpu burner": ("timeout", "CPU time"), "huge answer": ("error", "more than")}


def keyword_calls(turn: list[str]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for c in turn:
        node = ast.parse(c, mode="eval").body
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        out.append((node.func.id, {k.arg or "": ast.literal_eval(k.value)
                                   for k in node.keywords}))
    return out


def innocent_answer(calls: list[tuple[str, dict[str, Any]]], mode: str) -> dict[str, Any]:
    if mode == "native":
        return {"tool_calls": [tool_call(n, a, i)["tool_calls"][0]
                               for i, (n, a) in enumerate(calls)]}
    return {"content": "[" + ", ".join(
        f"{n}({', '.join(f'{k}={v!r}' for k, v in a.items())})" for n, a in calls) + "]"}


def pick_entries(data_dir: Path, n_innocent: int) -> tuple[list[str], list[str], dict[str, Any],
                                                           dict[str, str]]:
    """Innocent entries (ground truth in keywords only, as BFCL's prompt asks), entries for
    the hostile cases (one with BFCL's MathAPI for the CPU burner), and every turn's
    question -> (entry, turn)."""
    entries, truth = load(data_dir, "multi_turn_base")
    asked = Counter(q[-1]["content"] for e in entries for q in e["question"] if q)
    # an entry is told apart by its questions: two entries share one, leave both out
    entries = [e for e in entries if all(asked[q[-1]["content"]] == 1 for q in e["question"] if q)]
    plain = [e for e in entries if all("(" in c and not ast.parse(c, mode="eval").body.args
                                       for t in truth[e["id"]] for c in t)]
    innocent = [e["id"] for e in plain[:n_innocent]]
    math = next(e["id"] for e in entries if "MathAPI" in e["involved_classes"]
                and e["id"] not in innocent)
    others = [e["id"] for e in entries if e["id"] not in innocent and e["id"] != math]
    hostile = {case: (math if case == "cpu burner" else others.pop(0)) for case in CASES}
    turns = {}
    for e in entries:
        for i, question in enumerate(e["question"]):
            if question:
                turns[question[-1]["content"]] = f"{e['id']}#{i}"
    return innocent, list(hostile.values()), truth, turns


def answerer(mode: str, truth: dict[str, Any], turns: dict[str, str],
             hostile: dict[str, str]) -> Callable[[dict[str, Any]], dict[str, Any] | int]:
    """Each turn's first step: the entry's answer; after tool results: end the turn."""

    def answer(body: dict[str, Any]) -> dict[str, Any] | int:
        where = turns.get(last_user(body))
        if where is None or body["messages"][-1]["role"] != "user":
            return {"content": "Done."}
        entry, turn = where.split("#")
        if entry in hostile:
            return hostile_call(hostile[entry], mode)
        return innocent_answer(keyword_calls(truth[entry][int(turn)]), mode)

    return answer


def settings_for(tmp_path: Path, sandbox: str, timeout_s: float = 600.0) -> Settings:
    return Settings(endpoints=[], home=tmp_path, database_url=f"sqlite:///{tmp_path / 'b.db'}",
                    sandbox=sandbox, sandbox_image=IMAGE,  # type: ignore[arg-type]
                    request_timeout_s=timeout_s)


def new_run(settings: Settings, task_ids: list[str], mode: str) -> tuple[Run, Any]:
    db = make_engine(settings.database_url)
    bench = get_benchmark("bfcl-multi-turn-base")
    run = Run(id=f"hostile-{uuid.uuid4().hex[:8]}", benchmark=bench.id,
              benchmark_version=bench.version, dataset_hash="h", model="fake",
              endpoint_url="http://fake/v1", task_ids=task_ids, total=len(task_ids),
              status="running", concurrency=4,
              params={"temperature": 0.0, "top_p": 1.0, "max_tokens": 256, "options": {"mode": mode}})
    q.add_run(db, run)
    return run, db


@pytest.fixture(params=["local", "docker"])
def sandbox(request: pytest.FixtureRequest) -> str:
    if request.param == "docker":
        request.getfixturevalue("docker_image")
    return str(request.param)


def no_bridge_left(sandbox: str, ex: RunExecutor) -> None:
    """No container of ours, no process of this run's bridge or its children."""
    if sandbox == "docker":
        assert not owned_containers(os.getpid())
        return
    session = getattr(ex.pipe, "session", None)
    assert isinstance(session, BfclSession)
    mark = str(session.ctx.proxy_socket).encode()
    for pid in os.listdir("/proc"):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, NotADirectoryError, PermissionError, ProcessLookupError):
            continue
        assert mark not in cmd.split(b"\0"), (pid, cmd[:100])


@pytest.mark.parametrize("mode", ["native", "prompting"])
def test_hostile_answers_are_non_pass_verdicts_and_the_run_goes_on(
        tmp_path: Path, data_dir: Path, sandbox: str, mode: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bfcl_session, "ENTRY_CPU_S", 5.0)
    monkeypatch.setattr(bfcl_session, "ENTRY_MAX_OUTPUT", 512 << 10)
    innocent, hostile_ids, truth, turns = pick_entries(data_dir, 3)
    hostile = dict(zip(hostile_ids, CASES, strict=True))
    settings = settings_for(tmp_path, sandbox)
    run, db = new_run(settings, [*hostile_ids, *innocent], mode)
    transport = fake_endpoint(answerer(mode, truth, turns, hostile))
    ex = RunExecutor(settings, db, run, transport)
    status = anyio.run(ex.execute)
    done = q.get_run(db, run.id)
    assert status == "succeeded", done and done.error
    by_id = {s.task_id: s for s in q.all_samples(db, run.id)}
    for entry in innocent:
        assert by_id[entry].verdict == "pass", (entry, by_id[entry].detail)
    for entry, case in hostile.items():
        s = by_id[entry]
        verdict, reason = EXPECTED.get(case, ("fail", "benchdock refused"))
        if case == "attribute call":  # no code, but no method of the entry's classes
            reason = "os.system"
        assert (s.verdict, case) == (verdict, case), s.detail
        assert reason in (s.detail or ""), (case, s.detail)
    assert not CANARY.exists()
    no_bridge_left(sandbox, ex)


def bridge_pid_or_container(ex: RunExecutor) -> Callable[[int], None]:
    """A way to signal the run's current bridge process from outside it."""
    session = getattr(ex.pipe, "session", None)
    assert isinstance(session, BfclSession)
    ch: Any = session.rpc.rpc.channel
    if hasattr(ch, "proc"):  # under bubblewrap the bridge is a descendant of bwrap
        return lambda sig: [os.kill(pid, sig) for pid in (ch.proc.pid, *descendants(ch.proc.pid))]
    return lambda sig: ch.container.kill(signal=signal.Signals(sig).name)


def descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()
            parents[int(entry)] = int(stat[1])
        except (ValueError, OSError, IndexError):
            continue
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out += kids
        todo += kids
    return out


@pytest.mark.parametrize("how", ["dies", "hangs"])
def test_a_bridge_that_dies_or_hangs_on_one_entry_costs_that_entry_only(
        tmp_path: Path, data_dir: Path, sandbox: str, how: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The bridge is killed (or stopped) whenever it takes the poison entry's first turn,
    cached answer or not: that entry gets its verdict after the second time, the others in
    flight are retried alone and pass, and a resumed run asks nothing again."""
    monkeypatch.setattr(bfcl_session, "JUDGE_WALL_S", 10.0)
    monkeypatch.setattr(bfcl_session, "HANG_GRACE_S", 3.0)
    innocent, (poison, *_), truth, turns = pick_entries(data_dir, 3)
    question = next(k for k, v in turns.items() if v == f"{poison}#0")
    settings = settings_for(tmp_path, sandbox, timeout_s=4.0)  # an entry may take 16 s
    run, db = new_run(settings, [poison, *innocent], "prompting")
    transport = fake_endpoint(answerer("prompting", truth, turns, {}))
    ex = RunExecutor(settings, db, run, transport)
    hits: list[str] = []
    complete = RecordingProxy.complete

    async def poisoned(self: RecordingProxy, tag: str, body: dict[str, Any]) -> Any:
        if last_user(body) == question and body["messages"][-1]["role"] == "user":
            hits.append(tag)
            bridge_pid_or_container(ex)(signal.SIGKILL if how == "dies" else signal.SIGSTOP)
        return await complete(self, tag, body)

    monkeypatch.setattr(RecordingProxy, "complete", poisoned)
    status = anyio.run(ex.execute)
    done = q.get_run(db, run.id)
    assert status == "succeeded", done and done.error
    by_id = {s.task_id: s for s in q.all_samples(db, run.id)}
    for entry in innocent:
        assert by_id[entry].verdict == "pass", (entry, by_id[entry].detail)
    p = by_id[poison]
    assert p.verdict == ("error" if how == "dies" else "timeout"), p.detail
    assert "failed twice" in (p.detail or "") and "restarted" in (p.detail or "")
    assert len(hits) == 2  # once among the others, once alone
    assert done is not None and done.metrics is not None
    assert len(done.metrics["bfcl"]["harness_restarts"]) == 2
    # resuming finds nothing to do: the poison entry has its verdict
    again = RunExecutor(settings, db, q.get_run(db, run.id) or run, transport)
    assert anyio.run(again.execute) == "succeeded"
    assert len(hits) == 2
    no_bridge_left(sandbox, ex)


def test_ground_truth_of_every_multi_turn_entry_still_scores_valid(data_dir: Path) -> None:
    """All 800 multi-turn entries: BFCL's own ground truth as a native answer (positional
    arguments named from BFCL's function docs), judged by the bridge behind the guard, one
    process per entry (~40 s on 2 cores): every one valid and no call refused.
    tests/scripts/bfcl_guard_sweep.py also compares each verdict with bfcl-eval's unguarded one."""
    params: dict[str, list[str]] = {}
    for doc in (data_dir / "multi_turn_func_doc").glob("*.json"):
        for line in doc.read_text().splitlines():
            if line.strip():
                f = json.loads(line)
                params[f["name"]] = list(f["parameters"]["properties"])
    env = load_env(default_envs_dir())
    init = {"model": "m", "mode": "native", "temperature": 0.0, "threads": 2}
    channel = open_process_channel(
        [str(env.python), "-u", "-c", bfcl_session.bridge_program()],
        {"BENCHDOCK_PROXY_SOCKET": "/nonexistent", "OPENAI_API_KEY": "unused"})
    rpc = RpcChannel(channel, init, bfcl_session.START_TIMEOUT_S)
    try:
        def as_native(call: str) -> dict[str, str]:
            node = ast.parse(call, mode="eval").body
            assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            args = {params[node.func.id][i]: ast.literal_eval(a) for i, a in enumerate(node.args)}
            args.update({k.arg or "": ast.literal_eval(k.value) for k in node.keywords})
            return {node.func.id: json.dumps(args)}

        jobs = []
        for cat in ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param",
                    "multi_turn_long_context"):
            _, truth = load(data_dir, cat)
            for eid, gt in truth.items():
                result = [[[as_native(c) for c in turn]] if turn else [] for turn in gt]
                jobs.append((cat, eid, result))
        with ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(lambda j: rpc.call("judge", 600, category=j[0],
                                                       entry_id=j[1], result=j[2]), jobs))
    finally:
        rpc.close()
    assert len(replies) == 800
    invalid = [(j[1], r["judged"]) for j, r in zip(jobs, replies, strict=True)
               if r["judged"].get("valid") is not True]
    assert not invalid, invalid[:3]
    assert not [r["refused"] for r in replies if r["refused"]]
