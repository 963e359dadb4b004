"""The BFCL bridge: runs inside bfcl-eval's own environment (its venv, in the sandbox
container or as a subprocess), never in benchdock's process. Standard library plus bfcl_eval.

It answers JSON lines on stdin with JSON lines on stdout, several requests at once (one
thread each, as BFCL's own generator does). For each question it lets BFCL's own
`OpenAICompletionsHandler` hold the conversation (its prompts, its tool schema conversion,
its multi-turn loop with its step limit and its simulators) against benchdock's recording
proxy, reached over a unix socket, and then judges the answer with BFCL's own per-entry
evaluators (AST checker, relevance rule, multi-turn state and response checks).
"""

from __future__ import annotations

import copy
import csv
import json
import os
import sys
import tempfile
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any

REGISTRY = {"native": "benchdock-native", "prompting": "benchdock-prompting"}  # no "_" allowed
_out_lock = threading.Lock()
_state: dict[str, Any] = {}
# replies are the only thing on stdout: whatever BFCL prints goes to stderr
_replies = sys.stdout
sys.stdout = sys.stderr


def reply(msg: dict[str, Any]) -> None:
    line = json.dumps(msg, default=repr)
    with _out_lock:
        _replies.write(line + "\n")
        _replies.flush()


def _register_models() -> None:
    from bfcl_eval.constants.model_config import MODEL_CONFIG_MAPPING, ModelConfig
    from bfcl_eval.model_handler.api_inference.openai_completion import OpenAICompletionsHandler

    for mode, key in REGISTRY.items():
        MODEL_CONFIG_MAPPING[key] = ModelConfig(
            model_name=key, display_name=f"benchdock ({mode})", url="", org="benchdock",
            license="", model_handler=OpenAICompletionsHandler, input_price=None,
            output_price=None, is_fc_model=mode == "native", underscore_to_dot=mode == "native",
        )


def _client(tag: str) -> Any:
    from openai import OpenAI

    try:  # openai 3.x is built on httpx2, earlier releases on httpx
        import httpx2 as hx
    except ImportError:
        import httpx as hx  # type: ignore[no-redef]
    transport = hx.HTTPTransport(uds=os.environ["BENCHDOCK_PROXY_SOCKET"])
    http: Any = hx.Client(transport=transport, timeout=hx.Timeout(3600.0, connect=30.0))
    # max_retries=0: benchdock's proxy already retries the upstream endpoint
    return OpenAI(api_key="benchdock", base_url=f"http://benchdock-proxy/t/{tag}/v1",
                  http_client=http, max_retries=0)


def _handler(tag: str) -> Any:
    from bfcl_eval.model_handler.api_inference.openai_completion import OpenAICompletionsHandler

    mode = _state["mode"]
    h = OpenAICompletionsHandler(
        model_name=_state["model"], temperature=_state["temperature"],
        registry_name=REGISTRY[mode], is_fc_model=mode == "native",
        underscore_to_dot=mode == "native",
    )
    h.client = _client(tag)
    return h


def _entries(category: str) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]],
                                     dict[str, Any]]:
    """Generation entries, evaluation entries and ground truth by id, loaded as BFCL does."""
    cache = _state.setdefault("entries", {})
    with _state["lock"]:
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
    handler = _handler("judge")
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
    decoded = out.get("model_result_decoded", out.get("decoded_result"))
    return {"valid": False, "error_type": error_type, "error": text,
            "decoded": decoded, "possible_answer": out.get("possible_answer")}


def _decode(category: str, result: Any) -> Any:
    """The calls as BFCL decodes them (for the record; the checker decodes on its own)."""
    from bfcl_eval.constants.enums import ReturnFormat
    from bfcl_eval.utils import is_java, is_js, is_multi_turn

    handler = _handler("decode")
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


def op_solve(req: dict[str, Any]) -> dict[str, Any]:
    category, entry_id, tag = req["category"], req["entry_id"], req["tag"]
    gen, _, _ = _entries(category)
    if entry_id not in gen:
        return {"error": f"no entry {entry_id!r} in BFCL category {category!r}"}
    handler = _handler(tag)
    try:
        result, meta = handler.inference(copy.deepcopy(gen[entry_id]), False, True)
    except Exception as exc:  # BFCL records this as the answer; so do we, as an error verdict
        return {"inference_error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=5)}
    judged = _judge(category, entry_id, copy.deepcopy(result))
    return {"result": result, "decoded": _decode(category, copy.deepcopy(result)),
            "judged": judged, "steps": _steps(result),
            "input_tokens": meta.get("input_token_count"),
            "output_tokens": meta.get("output_token_count")}


def _steps(result: Any) -> list[int] | None:
    if isinstance(result, list) and result and all(isinstance(t, list) for t in result):
        return [len(t) for t in result]
    return None


def op_judge(req: dict[str, Any]) -> dict[str, Any]:
    """Judge a given answer: lets tests check the checker wiring without a model."""
    return {"judged": _judge(req["category"], req["entry_id"], req["result"])}


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


OPS = {"solve": op_solve, "judge": op_judge, "entries": op_entries, "overall": op_overall}


def handle(req: dict[str, Any]) -> None:
    try:
        out = OPS[req["op"]](req)
    except Exception as exc:
        out = {"bridge_error": f"{type(exc).__name__}: {exc}",
               "traceback": traceback.format_exc(limit=8)}
    out["id"] = req.get("id")
    reply(out)


def main() -> None:
    site_dir = os.environ.get("BENCHDOCK_BFCL_SITE")
    if site_dir:  # the venv mounted into a container at another path
        import site

        site.addsitedir(site_dir)
    os.environ.setdefault("BFCL_PROJECT_ROOT", tempfile.mkdtemp(prefix="bfcl-"))
    _state["lock"] = threading.Lock()
    init = json.loads(sys.stdin.readline())
    _state.update(model=init["model"], mode=init["mode"], temperature=init["temperature"])
    try:
        import bfcl_eval  # noqa: F401

        _register_models()
    except Exception as exc:
        reply({"ready": False, "error": f"bfcl_eval failed to import: {type(exc).__name__}: {exc}",
               "traceback": traceback.format_exc(limit=8)})
        return
    reply({"ready": True, "python": sys.version.split()[0]})
    pool = ThreadPoolExecutor(max_workers=max(1, int(init.get("threads", 4))))
    for line in sys.stdin:
        if line.strip():
            pool.submit(handle, json.loads(line))
    pool.shutdown(wait=True)


if __name__ == "__main__":
    main()
