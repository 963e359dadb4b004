"""A fake model-swapping server for the adaptive tests: llama-swap's `/running`, one model
loaded at a time, a delay on every switch, and models whose answers are known.

It is a real HTTP server in a thread (the worker that executes runs is another process, so
an in-process transport would not reach it). Each model is a function from the user
message to the answer; `switches` counts the loads, so a test can check the batching.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = Callable[[str], str]


class SwapState:
    def __init__(self, models: dict[str, Answer], switch_s: float) -> None:
        self.models = models
        self.switch_s = switch_s
        self.loaded: str | None = None
        self.switches = 0
        self.requests: list[str] = []
        self.lock = threading.Lock()

    def use(self, model: str) -> None:
        """Load `model` if another is loaded: one model at a time, like llama-swap."""
        with self.lock:
            self.requests.append(model)
            if self.loaded != model:
                if self.loaded is not None:
                    self.switches += 1
                time.sleep(self.switch_s)
                self.loaded = model


def _handler(state: SwapState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _json(self, code: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/v1/models":
                self._json(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "owned_by": "llama-swap"} for m in state.models]})
            elif self.path == "/running":
                self._json(200, {"running": [{"model": state.loaded, "state": "ready"}]
                                 if state.loaded else []})
            else:
                self._json(404, {"error": "not found"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            model = body.get("model")
            if self.path != "/v1/chat/completions" or model not in state.models:
                self._json(404, {"error": f"no model {model!r}"})
                return
            state.use(model)
            text = state.models[model](body["messages"][-1]["content"])
            if not body.get("stream"):
                self._json(200, {"choices": [{"index": 0, "finish_reason": "stop", "message": {
                    "role": "assistant", "content": text}}],
                    "usage": {"completion_tokens": max(1, len(text) // 4)}})
                return
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            events = [{"choices": [{"index": 0, "delta": {"content": text[i:i + 40]}}]}
                      for i in range(0, len(text), 40)]
            events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                           "usage": {"completion_tokens": max(1, len(text) // 4)}})
            for e in events:
                self.wfile.write(f"data: {json.dumps(e)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

    return Handler


@contextmanager
def swapping_server(models: dict[str, Answer], switch_s: float) -> Iterator[tuple[str, SwapState]]:
    """(base URL ending in /v1, its state) while the block runs."""
    state = SwapState(models, switch_s)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", state
    finally:
        server.shutdown()
        server.server_close()
