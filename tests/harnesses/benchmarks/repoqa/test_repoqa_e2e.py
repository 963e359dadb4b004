"""repoqa-local-4k end to end: the real CLI, worker and llama.cpp endpoint (SmolLM2-135M,
an 8,192-token window: 4k of context fits), two tasks, 256 new tokens each (a shared CPU
endpoint: RepoQA's 1024 takes minutes per task there); each sample keeps the needle, the
answer, the best match and its BLEU, and the comparison counts them for repository
understanding. Needs the endpoint (fails without it when BENCHDOCK_REQUIRE_ENDPOINT=1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchdock.store import queries as q
from benchdock.store.db import make_engine

MODEL = "smollm2-135m"


def test_repoqa_local_4k_runs_on_the_real_endpoint(tmp_path: Path, endpoint_url: str) -> None:
    env = {**os.environ, "BENCHDOCK_HOME": str(tmp_path / "home"),
           "BENCHDOCK_ENDPOINTS": endpoint_url, "BENCHDOCK_SANDBOX": "local"}
    env.pop("BENCHDOCK_DATABASE_URL", None)
    exe = str(Path(sys.executable).with_name("benchdock"))
    run = subprocess.run([exe, "run", "repoqa-local-4k", "--model", MODEL, "--limit", "2",
                          "--show", "2", "--max-tokens", "256"], env=env, capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "repoqa-local-4k -> succeeded (2/2 samples" in run.stdout, run.stdout
    db = make_engine(f"sqlite:///{tmp_path / 'home' / 'benchdock.db'}")
    (run_id,) = q.recent_run_ids(db, 5)
    stored = q.get_run(db, run_id)
    assert stored is not None and "local construction" in stored.benchmark_version
    assert stored.params["max_tokens"] == 256  # RepoQA's 1024 by default; kept short here
    samples = q.all_samples(db, run_id)
    assert len(samples) == 2
    for s in samples:
        assert s.verdict in ("pass", "fail", "error") and s.completion is not None
        assert s.detail and f"needle {s.task_id.split('::')[-1]};" in s.detail
        assert "at BLEU" in s.detail and "description:" in s.detail
    from benchdock.store.evidence import evidence_rows

    rows = evidence_rows(db, [run_id])
    assert {r.dimension for r in rows} == {"repo_understanding"}
    assert sum(r.n for r in rows) == 2 and {r.part for r in rows} == {"local-4k"}
