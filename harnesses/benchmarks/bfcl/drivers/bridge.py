"""The BFCL bridge: runs inside bfcl-eval's own environment (its venv, in the sandbox
container or as a subprocess), never in benchdock's process. Standard library plus bfcl_eval,
and its two siblings `guard` and `isolate` (session.py ships all three).

It answers JSON lines on stdin with JSON lines on a private copy of its stdout, several
requests at once. For each question it lets BFCL's own `OpenAICompletionsHandler` hold the
conversation (its prompts, its tool schema conversion, its multi-turn loop with its step
limit and its simulators) against benchdock's recording proxy, reached over a unix socket,
and then judges the answer with BFCL's own per-entry evaluators (AST checker, relevance
rule, multi-turn state and response checks).

Answers never run here: BFCL's loop (which executes the model's calls) runs in one child
process and the judging (which executes them again) in another, forked from this one for
that entry alone (`isolate`), with bfcl-eval's `eval` of model calls checked first
(`guard`). A verdict is a reply from this process that relays a judging child's complete
answer after that child exited cleanly; a child that dies, hangs or floods is that entry's
error or timeout, with the reason, and the bridge goes on.
"""

from __future__ import annotations

import copy
import csv
import functools
import json
import os
import sys
import tempfile
import traceback
from typing import Any

from benchdock.harnesses.benchmarks.bfcl.drivers import guard, isolate

REGISTRY = {"native": "benchdock-native", "prompting": "benchdock-prompting"}  # no "_" allowed
# the simulators BFCL's multi-turn categories use, imported once here rather than per child
SIMULATORS = ("GorillaFileSystem", "MathAPI", "MessageAPI", "TwitterAPI", "TicketAPI",
              "TradingBot", "TravelAPI", "VehicleControlAPI")
MAX_ERROR_CHARS = 20_000
_state: dict[str, Any] = {}


def reply(msg: dict[str, Any]) -> None:
    """One line on the protocol: the private copy of stdout, which no child holds."""
    data = (json.dumps(msg, default=repr) + "\n").encode()
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(_state["proto"], view):]
    except OSError:  # benchdock has gone: nothing left to tell
        pass


def _register_models() -> None:
    from bfcl_eval.constants.model_config import MODEL_CONFIG_MAPPING, ModelConfig
    from bfcl_eval.model_handler.api_inference.openai_completion import OpenAICompletionsHandler

    for mode, key in REGISTRY.items():
        MODEL_CONFIG_MAPPING[key] = ModelConfig(
            model_name=key, display_name=f"benchdock ({mode})", url="", org="benchdock",
            license="", model_handler=OpenAICompletionsHandler, input_price=None,
            output_price=None, is_fc_model=mode == "native", underscore_to_dot=mode == "native",
        )


def _make_handler() -> Any:
    """BFCL's handler, made once in the bridge (its OpenAI client and an SSL context cost
    ~70 ms to build, per entry otherwise). Every child uses it as its own copy."""
    from bfcl_eval.model_handler.api_inference.openai_completion import OpenAICompletionsHandler
    from openai import OpenAI

    try:  # openai 3.x is built on httpx2, earlier releases on httpx
        import httpx2 as hx
    except ImportError:
        import httpx as hx  # type: ignore[no-redef]
    mode = _state["mode"]
    h = OpenAICompletionsHandler(
        model_name=_state["model"], temperature=_state["temperature"],
        registry_name=REGISTRY[mode], is_fc_model=mode == "native",
        underscore_to_dot=mode == "native",
    )
    # plain HTTP over the proxy's unix socket: TLS is never used, so no CA bundle to load
    transport = hx.HTTPTransport(uds=os.environ["BENCHDOCK_PROXY_SOCKET"], verify=False)
    http: Any = hx.Client(transport=transport, timeout=hx.Timeout(3600.0, connect=30.0))
    # max_retries=0: benchdock's proxy already retries the upstream endpoint
    h.client = OpenAI(api_key="benchdock", base_url="http://benchdock-proxy/t/none/v1",
                      http_client=http, max_retries=0)
    return h


def _handler(tag: str) -> Any:
    """The handler, asking through the proxy under this sample's tag (in a child)."""
    h = _state["handler"]
    h.client = h.client.with_options(base_url=f"http://benchdock-proxy/t/{tag}/v1")
    return h


def _entries(category: str) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]],
                                     dict[str, Any]]:
    """Generation entries, evaluation entries and ground truth by id, loaded as BFCL does
    (here, before forking, so that every child shares them)."""
    cache = _state.setdefault("entries", {})
    if category not in cache:
        from bfcl_eval.utils import (
            is_relevance_or_irrelevance,
            load_dataset_entry,
            load_ground_truth_entry,
        )

        gen = load_dataset_entry(category)
        ev = load_dataset_entry(category, include_prereq=False,
                                include_language_specific_hint=False)
        truth: dict[str, Any] = {}
        if not is_relevance_or_irrelevance(category):
            # aligned by index with the prompt entries, as BFCL's runner does
            for e, gt in zip(ev, load_ground_truth_entry(category), strict=False):
                truth[e["id"]] = gt["ground_truth"]
        cache[category] = ({e["id"]: e for e in gen}, {e["id"]: e for e in ev}, truth)
    result: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, Any]] = (
        cache[category])
    return result


def _judge(category: str, entry_id: str, result: Any) -> dict[str, Any]:
    from bfcl_eval.constants.enums import Language, ReturnFormat
    from bfcl_eval.eval_checker import eval_runner as er
    from bfcl_eval.utils import is_java, is_js, is_multi_turn, is_relevance_or_irrelevance

    _, ev, truth = _entries(category)
    prompt = copy.deepcopy(ev[entry_id])
    handler = _state["handler"]
    model = REGISTRY[_state["mode"]]
    if is_relevance_or_irrelevance(category):
        out = er._evaluate_single_relevance_entry(handler, entry_id, result, prompt, model, category)
    elif is_multi_turn(category):
        out = er._evaluate_single_multi_turn_entry(handler, entry_id, result, truth[entry_id],
                                                   prompt, model, category)
    else:
        if is_java(category):
            lang, fmt = Language.JAVA, ReturnFormat.JAVA
        elif is_js(category):
            lang, fmt = Language.JAVASCRIPT, ReturnFormat.JAVASCRIPT
        else:
            lang, fmt = Language.PYTHON, ReturnFormat.PYTHON
        out = er._evaluate_single_ast_entry(handler, entry_id, result, truth[entry_id], prompt,
                                            model, category, language=lang, return_format=fmt,
                                            has_tool_call_tag=False)
    return _verdict(out)


def _verdict(out: dict[str, Any]) -> dict[str, Any]:
    """BFCL's verdict record, trimmed to what benchdock stores per sample."""
    if out.get("valid"):
        return {"valid": True}
    err = out.get("error")
    error_type = out.get("error_type")
    if isinstance(err, dict):  # multi-turn checkers nest the type and messages
        error_type = error_type or err.get("error_type")
        messages = err.get("error_message", err)
    else:
        messages = err
    text = "; ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
    if len(text) > MAX_ERROR_CHARS:
        text = text[:MAX_ERROR_CHARS] + f"... ({len(text) - MAX_ERROR_CHARS} more characters)"
    decoded = out.get("model_result_decoded", out.get("decoded_result"))
    return {"valid": False, "error_type": error_type, "error": text,
            "decoded": decoded, "possible_answer": out.get("possible_answer")}


def _decode(category: str, result: Any) -> Any:
    """The calls as BFCL decodes them (for the record; the checker decodes on its own)."""
    from bfcl_eval.constants.enums import ReturnFormat
    from bfcl_eval.utils import is_java, is_js, is_multi_turn

    handler = _state["handler"]
    try:
        if is_multi_turn(category):
            turns = []
            for turn in result:
                steps = []
                for step in turn:
                    try:
                        steps.append(handler.decode_execute(step, has_tool_call_tag=False))
                    except Exception:
                        continue
                turns.append(steps)
            return turns
        fmt = (ReturnFormat.JAVA if is_java(category) else
               ReturnFormat.JAVASCRIPT if is_js(category) else ReturnFormat.PYTHON)
        return handler.decode_ast(result, fmt, has_tool_call_tag=False)
    except Exception as exc:
        return f"(could not decode: {exc})"


# --- the work done in a child, one entry each ---------------------------------------------

def _entry_work(category: str, entry_id: str, tag: str) -> dict[str, Any]:
    """BFCL's conversation for one entry (its loop executes the model's calls), then its
    checkers on the answer (the multi-turn one executes them again, on fresh simulators)."""
    gen, _, _ = _entries(category)
    try:
        result, meta = _handler(tag).inference(copy.deepcopy(gen[entry_id]), False, True)
    except Exception as exc:  # BFCL records this as the answer; so do we, as an error verdict
        return {"inference_error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=5), "refused": guard.refusals}
    return {**_judge_work(category, entry_id, result),
            "input_tokens": meta.get("input_token_count"),
            "output_tokens": meta.get("output_token_count")}


def _judge_work(category: str, entry_id: str, result: Any) -> dict[str, Any]:
    # the answer as BFCL's files would hold it: what the checkers get is JSON, as in BFCL
    result = json.loads(json.dumps(result, default=repr))
    judged = _judge(category, entry_id, copy.deepcopy(result))
    return {"result": result, "judged": judged,
            "decoded": _decode(category, copy.deepcopy(result)), "refused": guard.refusals}


def _steps(result: Any) -> list[int] | None:
    if isinstance(result, list) and result and all(isinstance(t, list) for t in result):
        return [len(t) for t in result]
    return None


# --- requests, in the bridge ------------------------------------------------------------

class Bridge:
    def __init__(self, sup: isolate.Supervisor, limits: dict[str, Any]) -> None:
        self.sup = sup
        self.cpu_s = float(limits.get("cpu_s", 300.0))
        self.judge_s = float(limits.get("judge_s", 300.0))
        self.mem_bytes = int(limits.get("mem_bytes", 2 << 30))
        self.max_output = int(limits.get("max_output", 16 << 20))

    def limits(self, wall_s: float) -> isolate.Limits:
        return isolate.Limits(wall_s=wall_s, cpu_s=self.cpu_s, mem_bytes=self.mem_bytes,
                              max_output=self.max_output)

    def handle(self, req: dict[str, Any]) -> None:
        try:
            if req["op"] in ("solve", "judge"):
                self.entry(req)
            else:
                out = {"entries": op_entries, "overall": op_overall}[req["op"]](req)
                reply({**out, "id": req.get("id")})
        except Exception as exc:  # a fault of the bridge, never of an answer
            reply({"id": req.get("id"), "bridge_error": f"{type(exc).__name__}: {exc}",
                   "traceback": traceback.format_exc(limit=8)})

    def entry(self, req: dict[str, Any]) -> None:
        """`solve`: ask and judge one entry; `judge`: judge a given answer (tests). Either
        in a child of its own; its reply is relayed only when the child ended cleanly."""
        category, entry_id = req["category"], req["entry_id"]
        if entry_id not in _entries(category)[0]:
            reply({"id": req["id"], "error": f"no entry {entry_id!r} in BFCL category "
                                             f"{category!r}"})
            return
        if req["op"] == "solve":
            limits = self.limits(float(req.get("wall_s", 3600.0)) + self.judge_s)
            work = functools.partial(_entry_work, category, entry_id, req["tag"])
        else:
            limits = self.limits(self.judge_s)
            work = functools.partial(_judge_work, category, entry_id, req["result"])

        def done(o: isolate.Outcome) -> None:
            p = o.payload
            if p is None or "job_error" in p:
                self.failed(req, o)
            elif "inference_error" in p:
                reply({"id": req["id"], **p})
            elif not isinstance(p.get("judged"), dict):
                self.failed(req, isolate.Outcome(why="answered without a verdict"))
            else:
                reply({"id": req["id"], "result": p.get("result"), "decoded": p.get("decoded"),
                       "judged": p["judged"], "steps": _steps(p.get("result")),
                       "input_tokens": p.get("input_tokens"),
                       "output_tokens": p.get("output_tokens"), "refused": p.get("refused")})

        self.sup.spawn(work, limits, done)

    def failed(self, req: dict[str, Any], o: isolate.Outcome) -> None:
        why = o.why or str((o.payload or {}).get("job_error"))
        msg: dict[str, Any] = {"id": req["id"], "traceback": (o.payload or {}).get("traceback")}
        msg["entry_timeout" if o.timed_out else "entry_error"] = (
            f"BFCL's process for {req['entry_id']} {why}")
        reply(msg)


def op_entries(req: dict[str, Any]) -> dict[str, Any]:
    gen, _, truth = _entries(req["category"])
    return {"entries": [{"id": k, "question": v["question"],
                         "functions": [f.get("name") for f in v.get("function", [])],
                         "ground_truth": truth.get(k)} for k, v in gen.items()]}


def op_overall(req: dict[str, Any]) -> dict[str, Any]:
    """BFCL's own aggregation (its weights, its N/A rules) over per-category accuracies."""
    from pathlib import Path

    from bfcl_eval.eval_checker.eval_runner_helper import generate_leaderboard_csv

    key = REGISTRY[_state["mode"]]
    table = {key: {c: {"accuracy": v["accuracy"], "total_count": v["total_count"]}
                   for c, v in req["per_category"].items()}}
    with tempfile.TemporaryDirectory() as d:
        generate_leaderboard_csv(table, Path(d))
        rows: dict[str, dict[str, str]] = {}
        for name in ("data_overall.csv", "data_non_live.csv", "data_live.csv",
                     "data_multi_turn.csv"):
            path = Path(d) / name
            if path.exists():
                with open(path, newline="") as fh:
                    for row in csv.DictReader(fh):
                        rows[name.removesuffix(".csv").removeprefix("data_")] = row
    return {"tables": rows}


def _preload() -> None:
    """Everything a child needs, imported once here: a child then only forks."""
    import importlib

    import openai  # noqa: F401
    from bfcl_eval.constants.executable_backend_config import CLASS_FILE_PATH_MAPPING
    from bfcl_eval.eval_checker import eval_runner  # noqa: F401
    from bfcl_eval.eval_checker.eval_runner_helper import generate_leaderboard_csv  # noqa: F401
    from bfcl_eval.model_handler.api_inference import openai_completion  # noqa: F401

    for name in SIMULATORS:
        importlib.import_module(CLASS_FILE_PATH_MAPPING[name])
    _register_models()
    guard.install()
    _state["handler"] = _make_handler()


class _Lines:
    """Lines from a file descriptor, read as they come (no buffering ahead of the loop)."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buf = fd, b""

    def complete(self) -> list[bytes]:
        *lines, self.buf = self.buf.split(b"\n")
        return [ln for ln in lines if ln.strip()]

    def read(self) -> list[bytes] | None:
        """The complete lines now available; None at end of input."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            return None
        self.buf += chunk
        return self.complete()

    def first(self) -> bytes:
        while b"\n" not in self.buf:
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                raise EOFError("benchdock sent no init line")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line


def main() -> None:
    _state["proto"] = isolate.private_stdout()
    sys.stdout = sys.stderr  # BFCL prints progress; fd 1 is stderr now as well
    site_dir = os.environ.get("BENCHDOCK_BFCL_SITE")
    if site_dir:  # the venv mounted into a container at another path
        import site

        site.addsitedir(site_dir)
    os.environ.setdefault("BFCL_PROJECT_ROOT", tempfile.mkdtemp(prefix="bfcl-"))
    stdin = _Lines(0)
    init = json.loads(stdin.first())
    _state.update(model=init["model"], mode=init["mode"], temperature=init["temperature"])
    try:
        _preload()
    except Exception as exc:
        reply({"ready": False, "error": f"bfcl_eval failed to import: {type(exc).__name__}: {exc}",
               "traceback": traceback.format_exc(limit=8)})
        return
    # a solve and a judge per entry in flight; the session sends `threads` entries at once
    sup = isolate.Supervisor(private_fds=(_state["proto"],),
                             max_jobs=2 * max(1, int(init.get("threads", 4))))
    bridge = Bridge(sup, init.get("limits", {}))

    def on_stdin() -> None:
        lines = stdin.read()
        if lines is None:  # benchdock closed the channel: stop, and take the children along
            sup.unwatch(0)
            sup.stop(kill=True)
            return
        for line in lines:
            bridge.handle(json.loads(line))

    sup.watch(0, on_stdin)
    reply({"ready": True, "python": sys.version.split()[0], "isolation": "a process per entry"})
    for line in stdin.complete():  # requests sent before the reply above
        bridge.handle(json.loads(line))
    sup.run()


if __name__ == "__main__":
    main()
