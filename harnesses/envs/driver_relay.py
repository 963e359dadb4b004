"""The relay the in-sandbox drivers (aider's, mini-swe-agent's) give their model client.

aider and litellm want an http:// URL; the only way out of their sandbox is the recording
proxy's unix socket, mounted in. This relay listens on 127.0.0.1 and copies bytes both ways.

Standard library only, and self-contained: the drivers run under the harness venv's own
interpreter with no benchdock installed, so `driver_source.inline` pastes this module's
source into a driver in place of the line importing it.
"""

from __future__ import annotations

import socket
import threading


def start_relay(sock_path: str) -> int:
    """127.0.0.1:<port> -> the proxy's unix socket, byte for byte, one thread pair each."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)

    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def accept() -> None:
        while True:
            client, _ = server.accept()
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(sock_path)
            except OSError:
                client.close()
                continue
            threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return int(server.getsockname()[1])
