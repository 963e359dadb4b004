"""`benchdock run`'s flags, generated from the run settings' one declaration (`RunRequest`),
and the results view for people (the benchmark's own tables come from its declaration)."""

from __future__ import annotations

import argparse
import types
import typing
from typing import Any

from benchdock.harnesses.service.views import Results, RunRequest
from benchdock.server.text import table

POSITIONAL = ("benchmark",)
SPECIAL = ("model", "options")  # --model has its own help; --option KEY=VALUE is repeated


def _base_type(annotation: Any) -> Any:
    """int | None -> int; list[str] | None -> list[str]."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else str
    return annotation


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """One flag per RunRequest field (types, defaults and help from its declaration)."""
    fields = RunRequest.model_fields
    p.add_argument("benchmark", nargs="?", default="humaneval",
                   help=f"{fields['benchmark'].description} (default humaneval)")
    p.add_argument("--model", help="model id (default: the first one found, else the demo model)")
    for name, field in fields.items():
        if name in POSITIONAL or name in SPECIAL:
            continue
        kind = _base_type(field.annotation)
        default = field.default
        shown = "" if default is None else f" (default {default})"
        flag = "--" + name.replace("_", "-")
        if typing.get_origin(kind) is list:
            p.add_argument(flag, default=None, metavar="A,B,...",
                           type=lambda v: [x.strip() for x in v.split(",") if x.strip()],
                           help=f"{field.description}; comma-separated")
        else:
            p.add_argument(flag, default=None, type=kind if kind in (int, float) else str,
                           help=f"{field.description}{shown}")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help=f"{fields['options'].description}; repeat for several")


def run_request(args: argparse.Namespace) -> RunRequest:
    """The parsed flags as the one RunRequest (unset flags take its defaults)."""
    values: dict[str, Any] = {"model": args.model, "benchmark": args.benchmark}
    for name in RunRequest.model_fields:
        if name in POSITIONAL or name in SPECIAL:
            continue
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    options: dict[str, Any] = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--option {item!r}: expected KEY=VALUE")
        options[key.strip()] = value
    if options:
        values["options"] = options
    return RunRequest.model_validate(values)


def ttft_sources(timing: dict[str, Any]) -> str:
    """Where the time to first token came from, in words: a run against a server that reports
    no prompt timings streams only one request in `BENCHDOCK_TTFT_STREAM_EVERY`, so a bare
    "none: 9" read like a fault (it was asked about after a first run of the README)."""
    sources = dict(timing.get("ttft_sources") or {})
    none = sources.pop("none", 0)
    measured = sum(sources.values())
    if not measured and not none:
        return ""
    where = ", ".join(f"{k} {v}" for k, v in sources.items())
    text = f" ({measured} of {measured + none} answers measured{': ' + where if where else ''}"
    if none:
        text += ("; where an endpoint reports no prompt timings, one request in "
                 "BENCHDOCK_TTFT_STREAM_EVERY is streamed to measure it")
    return text + ")"


def print_results(res: Results) -> None:
    r = res.run
    print(f"\nrun {r.run_id}: {r.model} on {r.benchmark} -> {r.status}"
          f" ({r.done}/{r.total} samples, sandbox: {r.sandbox})")
    if r.error:
        print(f"error: {r.error}")
    rows = []
    for key, label in (("scores_base", "base tests"), ("scores", "all tests")):
        for name, sc in (res.metrics.get(key) or {}).items():
            lo, hi = sc["ci95"]
            rows.append([f"{name} ({label})", f"{sc['value']:.3f}", f"[{lo:.3f}, {hi:.3f}]",
                         str(sc["n"])])
    if rows:
        print(table(rows, ["metric", "value", "95% CI", "n"]))
    reason = r.params.get("options_reason")
    for t in res.tables:
        print(t.title + (f" ({reason})" if reason else ""))
        print(table(t.rows, t.headers))
        if t.note:
            print(t.note)
    timing = res.metrics.get("timing", {})

    def fmt(v: float | None, f: str) -> str:
        return "-" if v is None else format(v, f)

    print(f"wall {fmt(timing.get('wall_s'), '.1f')} s, mean latency "
          f"{fmt(timing.get('mean_latency_s'), '.2f')} s, ttft "
          f"{fmt(timing.get('mean_ttft_s'), '.3f')} s{ttft_sources(timing)}, "
          f"{fmt(timing.get('tokens_per_s'), '.1f')} "
          f"tok/s, {timing.get('cached', 0)} cached; verdicts {res.metrics.get('verdicts')}")
    if timing.get("failed_requests") or timing.get("infrastructure_retries"):
        print(f"reliability: {timing.get('failed_requests', 0)} failed request(s), "
              f"{timing.get('retried_requests', 0)} retried, "
              f"{fmt(timing.get('retry_lost_s'), '.1f')} s lost to them; "
              f"{timing.get('infrastructure_retries', 0)} sandbox rerun(s)")
    if res.samples:
        print(table([[s.task_id, s.status, short(s.detail)] for s in res.samples],
                    ["task", "verdict", "detail"]))


def short(detail: str | None) -> str:
    """One line of evidence: the failing assert and its exception when there are both."""
    if not detail:
        return ""
    lines = [ln.strip() for ln in detail.splitlines() if ln.strip()]
    if len(lines) > 1 and lines[-1].startswith("AssertionError") and lines[0].startswith("assert"):
        return f"{lines[0][:60]} -> {lines[-1][:30]}"
    return lines[-1][:90]
