"""A fake OpenAI-compatible endpoint in a thread that counts: requests in flight now, the
most ever in flight, requests served, and each chat request's model, start and end
(monotonic clock) in `requests`. It answers every chat request with the token the
prompt asks to repeat and the request's model (`count`'s answers), after `delay_s`: streamed
when the request asks for it, else as one JSON completion."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class CountingEndpoint:
    def __init__(self, delay_s: float = 0.05) -> None:
        self.delay_s = delay_s
        self.in_flight = self.max_in_flight = self.served = 0
        self.requests: list[tuple[str, float, float]] = []  # (model, start, end)
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, body: dict[str, Any]) -> bytes:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        start = time.monotonic()
        try:
            time.sleep(self.delay_s)
            token = body["messages"][-1]["content"].removeprefix("Repeat: ")
            text = f"{token} {body.get('model', '')}"
            if not body.get("stream"):  # benchdock asks unstreamed unless it measures TTFT
                return json.dumps({"choices": [{"message": {"role": "assistant",
                                                            "content": text},
                                                "finish_reason": "stop"}]}).encode()
            events = [{"choices": [{"delta": {"content": text}}]},
                      {"choices": [{"delta": {}, "finish_reason": "stop"}]}]
            return ("".join(f"data: {json.dumps(e)}\n\n" for e in events)
                    + "data: [DONE]\n\n").encode()
        finally:
            with self.lock:
                self.in_flight -= 1
                self.served += 1
                self.requests.append((str(body.get("model", "")), start, time.monotonic()))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        ep = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def handle(self) -> None:
                try:
                    super().handle()
                except ConnectionError:
                    pass  # a killed worker's connection

            def do_GET(self) -> None:
                out = json.dumps({"data": [{"id": "fake"}]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_POST(self) -> None:
                try:
                    body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                except (OSError, ValueError):
                    return  # the worker was killed while it sent the request
                out = ep._answer(body)
                self.send_response(200)
                self.send_header("content-type", "text/event-stream" if body.get("stream")
                                 else "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                try:
                    self.wfile.write(out)
                except OSError:
                    pass  # the worker was killed while it waited

        return Handler
