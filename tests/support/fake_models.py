"""A fake OpenAI-compatible endpoint serving several models with known behaviour, for the
agent-loop tests: each model answers from a function of the user message, may be slow
(`delay_s` before answering, `token_s` per streamed chunk) and may be flaky (HTTP 503 on
every `fail_every`-th request). It is a real HTTP server in a thread, so the worker (another
process) reaches it. `requests` counts what each model was asked; `failures` what failed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[str], str]


@dataclass
class FakeModel:
    answer: Answer
    delay_s: float = 0.0  # before the first token
    token_s: float = 0.0  # per streamed chunk of 16 characters
    fail_every: int = 0  # every Nth request to this model fails with HTTP 503 (0: never)


class FakeState:
    def __init__(self, models: dict[str, FakeModel]) -> None:
        self.models = models
        self.requests: dict[str, int] = dict.fromkeys(models, 0)
        self.failures: dict[str, int] = dict.fromkeys(models, 0)
        self.lock = threading.Lock()

    def ask(self, model: str) -> bool:
        """Count a request; False when this one is to fail."""
        with self.lock:
            self.requests[model] += 1
            n = self.requests[model]
            fm = self.models[model]
            if fm.fail_every and n % fm.fail_every == 0:
                self.failures[model] += 1
                return False
        return True


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _handler(state: FakeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _json(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/v1/models":
                self._json(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "owned_by": "fake"} for m in state.models]})
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            try:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            except (OSError, ValueError):
                return
            model = body.get("model")
            if self.path != "/v1/chat/completions" or model not in state.models:
                self._json(404, {"error": {"message": f"no model {model!r}"}})
                return
            fm = state.models[model]
            if not state.ask(model):
                self._json(503, {"error": {"message": "overloaded, try again"}})
                return
            time.sleep(fm.delay_s)
            text = fm.answer(body["messages"][-1]["content"])
            usage = {"prompt_tokens": 50, "completion_tokens": _tokens(text)}
            if not body.get("stream"):
                self._json(200, {"choices": [{"index": 0, "finish_reason": "stop", "message": {
                    "role": "assistant", "content": text}}], "usage": usage,
                    "timings": {"prompt_ms": fm.delay_s * 1000}})
                return
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("connection", "close")
            self.end_headers()
            for i in range(0, max(len(text), 1), 16):
                event = {"choices": [{"index": 0, "delta": {"content": text[i:i + 16]}}]}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
                time.sleep(fm.token_s)
            end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                   "usage": usage}
            self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
            self.close_connection = True

    return Handler


@contextmanager
def fake_models(models: dict[str, FakeModel], port: int = 0) -> Iterator[tuple[str, FakeState]]:
    """(base URL ending in /v1, its state) while the block runs."""
    state = FakeState(models)
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", state
    finally:
        server.shutdown()
        server.server_close()
