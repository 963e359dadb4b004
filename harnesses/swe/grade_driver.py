"""swebench's own grading of benchdock's test logs, run with the `swe` venv's interpreter.

Imports nothing from benchdock. Reads one JSON list of jobs on stdin and writes one JSON
list of answers on stdout, in order:
- {"op": "parse", "log": ...}: swebench 5.0.2's `parse_log_pytest` status map of the log.
- {"op": "report", "instance_id", "FAIL_TO_PASS", "PASS_TO_PASS", "model_patch", "log"}:
  `get_eval_report` (which reads the log with `get_logs_eval`) for a TestSpec whose log
  parser is `parse_log_pytest`, with the tests' statuses.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any


def main() -> None:
    jobs = json.loads(sys.stdin.read())
    from swebench.harness.grading import get_eval_report
    from swebench.harness.log_parsers.python import parse_log_pytest
    from swebench.types import TestSpec

    out: list[Any] = []
    for job in jobs:
        spec = TestSpec(instance_id=job.get("instance_id", "x"), image="", eval_script_list=[],
                        repo=job.get("repo", ""), version=job.get("version", ""),
                        FAIL_TO_PASS=list(job.get("FAIL_TO_PASS", [])),
                        PASS_TO_PASS=list(job.get("PASS_TO_PASS", [])),
                        log_parser="parse_log_pytest", eval_type="pass_and_fail")
        if job["op"] == "parse":
            out.append(parse_log_pytest(job["log"], spec))
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
            f.write(job["log"])
        try:
            pred = {"instance_id": spec.instance_id, "model_name_or_path": "benchdock",
                    "model_patch": job.get("model_patch")}
            out.append(get_eval_report(spec, pred, f.name, True)[spec.instance_id])
        finally:
            os.unlink(f.name)
    sys.stdout.write(json.dumps(out))


if __name__ == "__main__":
    main()
