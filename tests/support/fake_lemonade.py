"""A fake Lemonade Server, following its documented API (lemonade-sdk/lemonade,
docs/api/lemonade.md and openai.md): the OpenAI API under /api/v1 (and /v1), the models it
has downloaded at /api/v1/models (with `checkpoint`, `recipe`, `downloaded`), what is loaded
at /api/v1/health (`model_loaded`, `all_models_loaded` with `recipe_options.ctx_size`,
`max_models`), the last request's figures at /api/v1/stats (`time_to_first_token`,
`tokens_per_second`, ...), and /api/v1/load and /unload. Like the real server it loads a
model on demand when a request names it, evicting the loaded one when it has room for one
LLM (`max_llm`), which takes `load_s`. Its unstreamed answers carry no timings.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[str], str]
PREFIXES = ("/api/v1", "/v1", "/api/v0", "/v0")


class LemonadeState:
    def __init__(self, models: dict[str, Answer], load_s: float, max_llm: int,
                 ttft_s: float, ctx_size: int) -> None:
        self.models, self.load_s, self.max_llm = models, load_s, max_llm
        self.ttft_s, self.ctx_size = ttft_s, ctx_size
        self.loaded: list[str] = []  # oldest first
        self.loads = 0
        self.requests: list[str] = []
        self.stats: dict[str, Any] = {}
        self.lock = threading.Lock()

    def load(self, model: str) -> None:
        with self.lock:
            if model in self.loaded:
                return
            while len(self.loaded) >= self.max_llm:
                self.loaded.pop(0)
            time.sleep(self.load_s)
            self.loaded.append(model)
            self.loads += 1

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok", "version": "9.3.3",
            "model_loaded": self.loaded[-1] if self.loaded else None,
            "all_models_loaded": [
                {"model_name": m, "checkpoint": f"unsloth/{m}-GGUF:Q4_K_M",
                 "last_use": time.time(), "type": "llm", "device": "gpu", "pinned": False,
                 "recipe": "llamacpp", "recipe_options": {"ctx_size": self.ctx_size},
                 "backend_url": "http://127.0.0.1:8001/v1"} for m in self.loaded],
            "max_models": {"llm": self.max_llm, "embedding": 1, "reranking": 1},
        }


def _handler(state: LemonadeState) -> type[BaseHTTPRequestHandler]:
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

        def _route(self) -> str | None:
            for p in PREFIXES:
                if self.path.startswith(p + "/"):
                    return self.path[len(p):]
            return None

        def do_GET(self) -> None:
            route = self._route()
            if route == "/models":
                self._json(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "created": 1, "owned_by": "lemonade",
                     "checkpoint": f"unsloth/{m}-GGUF:Q4_K_M", "recipe": "llamacpp",
                     "downloaded": True, "labels": ["reasoning"] if "think" in m else []}
                    for m in state.models]})
            elif route == "/health":
                self._json(200, state.health())
            elif route == "/stats":
                self._json(200, state.stats)
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            route = self._route()
            body = json.loads(self.rfile.read(int(self.headers["content-length"])) or b"{}")
            if route == "/load":
                state.load(body["model_name"])
                self._json(200, {"status": "success"})
                return
            if route == "/unload":
                with state.lock:
                    state.loaded.clear()
                self._json(200, {"status": "success"})
                return
            model = body.get("model")
            if route != "/chat/completions" or model not in state.models:
                self._json(404, {"error": {"message": f"model {model!r} not found"}})
                return
            state.requests.append(model)
            t0 = time.monotonic()
            state.load(model)  # on demand, as the real server does
            time.sleep(state.ttft_s)
            ttft = time.monotonic() - t0
            text = state.models[model](body["messages"][-1]["content"])
            tokens = max(1, len(text) // 4)
            state.stats = {"time_to_first_token": round(ttft, 4), "tokens_per_second": 40.0,
                           "input_tokens": 50, "output_tokens": tokens, "prompt_tokens": 50}
            usage = {"prompt_tokens": 50, "completion_tokens": tokens}
            if not body.get("stream"):
                self._json(200, {"id": "chatcmpl-1", "object": "chat.completion",
                                 "model": model, "choices": [{
                                     "index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": text}}],
                                 "usage": usage})
                return
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("connection", "close")
            self.end_headers()
            events = [{"choices": [{"index": 0, "delta": {"content": text}}]},
                      {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                       "usage": usage}]
            for e in events:
                self.wfile.write(f"data: {json.dumps(e)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.close_connection = True

    return Handler


@contextmanager
def lemonade_server(models: dict[str, Answer], load_s: float = 0.3, max_llm: int = 1,
                    ttft_s: float = 0.05, ctx_size: int = 8192,
                    port: int = 0) -> Iterator[tuple[str, LemonadeState]]:
    """(its base URL, ending in /api/v1, and its state) while the block runs."""
    state = LemonadeState(models, load_s, max_llm, ttft_s, ctx_size)
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v1", state
    finally:
        server.shutdown()
        server.server_close()
