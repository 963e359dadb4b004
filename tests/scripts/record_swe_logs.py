"""Records the test logs tests/harnesses/benchmarks/swe/test_swe_grading.py grades (run once, by hand, with Docker and
the built instance set; the logs are committed under tests/fixtures/swe):
    BENCHDOCK_HOME=... BENCHDOCK_ENVS=... python -m tests.scripts.record_swe_logs
Each case is a real run of benchdock's eval script in a fresh container of an instance."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchdock.harnesses.benchmarks.swe import container, grading
from benchdock.harnesses.benchmarks.swe.project import fetch_sdist, swe_image
from benchdock.harnesses.config import Settings
from benchdock.harnesses.contract.registry import get_benchmark

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "swe"
BREAK_FIRST = "".join(line + "\n" for line in (
    "--- a/toolz/itertoolz.py", "+++ b/toolz/itertoolz.py", "@@ -366,7 +366,7 @@ def first(seq):",
    "     >>> first('ABC')", "     'A'", '     """', "-    return next(iter(seq))",
    "+    return None", " ", " ", " def second(seq):"))


def main() -> None:
    settings = Settings.from_env()
    bench = get_benchmark("swe-local", settings)
    insts = bench.instances()  # type: ignore[attr-defined]
    cases = [("gold", insts[0], insts[0].patch), ("empty", insts[1], ""),
             ("breaks-p2p", insts[2], insts[2].patch + BREAK_FIRST),
             ("does-not-apply", insts[3], "--- a/nothing.py\n+++ b/nothing.py\n@@ -1 +1 @@\n-a\n+b\n"),
             ("gold-2", insts[4], insts[4].patch)]
    OUT.mkdir(parents=True, exist_ok=True)
    for name, inst, patch in cases:
        inst_image = swe_image(settings)
        box = container.start(inst_image, "swe-record", fetch_sdist(settings, bench.project))  # type: ignore[attr-defined]
        try:
            container.prepare(box, inst.bug_patch)
            log = grading.run_tests(box, bench.project.test_dirs, patch, "")  # type: ignore[attr-defined]
        finally:
            box.remove()
        (OUT / f"{name}.log").write_text(log)
        (OUT / f"{name}.json").write_text(json.dumps({
            "instance_id": inst.instance_id, "image": inst_image, "model_patch": patch,
            "FAIL_TO_PASS": inst.FAIL_TO_PASS, "PASS_TO_PASS": inst.PASS_TO_PASS}, indent=1))
        sys.stderr.write(f"{name}: {len(log)} characters\n")


if __name__ == "__main__":
    main()
