"""swe-local end to end as an agent would use it: over MCP, the worker as a real detached
process, real mini-swe-agent, real Docker. First against a fake OpenAI endpoint (a real HTTP
server in this process) that plays the agent: the gold patch resolves, an empty diff does
not. Then against the real SmolLM2-135M endpoint on two instances: expected 0 % resolved,
the point being a complete trajectory and an honest verdict per instance."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from benchdock.harnesses.contract.registry import get_benchmark
from benchdock.harnesses.sandbox.docker_backend import LABEL, docker_client
from benchdock.server.app import create_server
from benchdock.store import queries as q
from benchdock.store.db import make_engine
from tests.server.test_e2e import call, wait_final
from tests.support.swe_support import scripted, swe_settings

pytestmark = pytest.mark.anyio
SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && cat patch.txt"
EXIT_STATUSES = {"Submitted", "LimitsExceeded", "TimeExceeded", "RepeatedFormatError"}


def serve_fake(answer: Any) -> tuple[ThreadingHTTPServer, str]:
    """An OpenAI-compatible endpoint on 127.0.0.1 answering with `answer(body)`."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, data: dict[str, Any]) -> None:
            raw = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            self._json({"object": "list", "data": [{"id": "fake-agent", "object": "model"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            out = answer(body)
            self._json({"id": "x", "object": "chat.completion", "model": "fake-agent",
                        "choices": [{"index": 0, "finish_reason": "stop", "message": {
                            "role": "assistant", "content": out["content"]}}],
                        "usage": {"prompt_tokens": 11, "completion_tokens": 7}})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


@pytest.fixture
def fake_agent(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    plans: dict[str, list[str]] = {}

    def steps(n: int, task: str) -> str:
        todo = next(v for k, v in plans.items() if k in task)
        return todo[min(n, len(todo) - 1)]

    server, url = serve_fake(scripted(steps))
    yield url, plans  # type: ignore[misc]
    server.shutdown()


def swe_containers(pid: int | None) -> list[Any]:
    return [c for c in docker_client().containers.list(all=True, filters={"label": LABEL})
            if c.labels.get(f"{LABEL}.purpose", "").startswith("swe-")
            and c.labels.get(f"{LABEL}.owner", "").endswith(f":{pid}")]


async def test_known_answers_through_mcp(tmp_path: Path, fake_agent: Any) -> None:
    url, plans = fake_agent
    settings = swe_settings(tmp_path, url)
    insts = get_benchmark("swe-local", settings).instances()  # type: ignore[attr-defined]
    gold, empty = insts[0], insts[1]
    plans[gold.problem_statement] = [
        f"cat > /tmp/g.patch <<'END_OF_PATCH'\n{gold.patch}END_OF_PATCH\n"
        "git apply /tmp/g.patch && git diff > patch.txt", SUBMIT]
    plans[empty.problem_statement] = ["echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"]
    async with Client(create_server(settings)) as c:
        started = await call(c, "run_benchmark", model="fake-agent", benchmark="swe-local",
                             tasks=[gold.instance_id, empty.instance_id],
                             options={"step_limit": 4})
        st = await wait_final(c, started["run_id"], limit_s=900)
        assert st["status"] == "succeeded", st
        res = await call(c, "get_results", run_id=started["run_id"], limit=10)
    assert res["metrics"]["swe"]["resolved"] == 1 and res["metrics"]["swe"]["n"] == 2
    assert res["tables"] and res["tables"][0]["rows"][0][0].startswith("0.500")
    verdicts = {s["task_id"]: s["status"] for s in res["samples"]}
    assert verdicts == {gold.instance_id: "pass", empty.instance_id: "fail"}
    run = q.get_run(make_engine(settings.database_url), started["run_id"])
    assert run is not None and swe_containers(run.worker_pid) == []


async def test_smollm2_on_two_local_instances(tmp_path: Path, endpoint_url: str) -> None:
    settings = swe_settings(tmp_path, endpoint_url)
    async with Client(create_server(settings)) as c:
        started = await call(c, "run_benchmark", model="smollm2-135m", benchmark="swe-local",
                             limit=2, max_tokens=256,
                             options={"step_limit": 4, "wall_time_limit_s": 600})
        st = await wait_final(c, started["run_id"], limit_s=1800)
        assert st["status"] == "succeeded", st
        res = await call(c, "get_results", run_id=started["run_id"], limit=10)
    db = make_engine(settings.database_url)
    samples = q.all_samples(db, started["run_id"])
    assert len(samples) == 2
    for s in samples:
        e = s.extra or {}
        assert s.verdict in ("pass", "fail"), s.detail
        assert e["exit_status"] in EXIT_STATUSES or e.get("agent_error"), e["exit_status"]
        assert 1 <= e["steps"] <= 4
        # every model answer is in the trajectory, with a command or as a format error
        asked = [st for st in e["trajectory"] if st["role"] in ("assistant", "format_error")]
        assert len(asked) == e["steps"] or e.get("agent_error"), e["trajectory"]
        assert all(st["text"] is not None for st in asked)
        assert e["grading_agrees"] is True
        assert e["completion_tokens"] > 0 and e["wall_s"] > 0
    assert res["metrics"]["swe"]["n"] == 2
    run = q.get_run(db, started["run_id"])
    assert run is not None and swe_containers(run.worker_pid) == []
