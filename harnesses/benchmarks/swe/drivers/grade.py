"""swebench's own grading of benchdock's test logs, run with the `swe` venv's interpreter.

Imports nothing from benchdock. Reads one JSON list of jobs on stdin and writes one JSON
list of answers on stdout, in order:
- {"op": "parse", "log": ...}: swebench 5.0.2's `parse_log_pytest` status map of the log.
- {"op": "report", "instance_id", "FAIL_TO_PASS", "PASS_TO_PASS", "model_patch", "log"}:
  `get_eval_report` (which reads the log with `get_logs_eval`) for a TestSpec whose log
  parser is `parse_log_pytest`, with the tests' statuses.
Either op takes an optional "log_parser" (a name in swebench's PARSER_REGISTRY, as the
published datasets carry it) or, without one, the parser swebench maps the job's "repo" to
(its MAP_REPO_TO_PARSER_* tables; pytest's for a repo it does not know), and "eval_type".
- {"op": "eval_script", "instance": {...}}: the eval script swebench runs for a published
  instance (`make_test_spec(...).eval_script`, with its test exit code recorded).
- {"op": "parser", "repo", "log_parser"}: the name of the parser the two ops above use.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any


def parser_name(repo: str, named: str | None) -> str:
    """The job's parser: the one it names, else swebench's for its repo, else pytest's."""
    import importlib

    from swebench.harness.log_parsers import PARSER_REGISTRY

    if named:
        if named not in PARSER_REGISTRY:
            raise KeyError(f"swebench has no log parser {named!r}")
        return named
    for sub in ("python", "javascript", "c", "go", "java", "php", "ruby", "rust"):
        mod = importlib.import_module(f"swebench.harness.log_parsers.{sub}")
        for name in dir(mod):
            table = getattr(mod, name)
            if name.startswith("MAP_REPO_TO_PARSER") and isinstance(table, dict) and \
                    repo in table:
                return str(table[repo].__name__)
    return "parse_log_pytest"


def main() -> None:
    jobs = json.loads(sys.stdin.read())
    from swebench.harness.grading import get_eval_report
    from swebench.harness.log_parsers import PARSER_REGISTRY
    from swebench.types import TestSpec

    out: list[Any] = []
    for job in jobs:
        if job["op"] == "eval_script":
            from swebench.harness.utils import make_test_spec

            inst = dict(job["instance"])
            inst["log_parser"] = parser_name(inst.get("repo", ""), inst.get("log_parser"))
            out.append(make_test_spec(inst).eval_script)
            continue
        parser = parser_name(job.get("repo", ""), job.get("log_parser"))
        if job["op"] == "parser":
            out.append(parser)
            continue
        spec = TestSpec(instance_id=job.get("instance_id", "x"), image="", eval_script_list=[],
                        repo=job.get("repo", ""), version=job.get("version", ""),
                        FAIL_TO_PASS=list(job.get("FAIL_TO_PASS", [])),
                        PASS_TO_PASS=list(job.get("PASS_TO_PASS", [])),
                        log_parser=parser, eval_type=job.get("eval_type") or "pass_and_fail")
        if job["op"] == "parse":
            out.append(PARSER_REGISTRY[parser](job["log"], spec))
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
