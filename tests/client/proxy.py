"""A tiny TCP proxy in front of the live server that can drop a connection mid-transfer.

It forwards bytes both ways, records the HTTP request heads clients send (so a test can see the
``Range`` a resume asked for) and counts the bytes the server sent back. ``cut_after(n)`` closes
the connection once ``n`` more bytes have gone to the client, as a flaky network would.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable


class CuttingProxy:
    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.lock = threading.Lock()
        self.sent_to_client = 0
        self.cuts = 0
        self._budget: int | None = None
        self._on_cut: Callable[[], None] | None = None
        self._requests: list[bytearray] = []
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_after(self, count: int, then: Callable[[], None] | None = None) -> None:
        """Drop the connection carrying the next ``count`` bytes to the client, then call ``then``."""
        with self.lock:
            self._budget = count
            self._on_cut = then

    @property
    def request_heads(self) -> list[str]:
        with self.lock:
            streams = [bytes(buffer) for buffer in self._requests]
        return [head.decode("latin-1") for stream in streams for head in stream.split(b"\r\n\r\n") if head.strip()]

    def ranges(self) -> list[str]:
        """The ``Range`` header of every request, or ``""`` for one without it."""
        found = []
        for head in self.request_heads:
            match = re.search(r"^range: *(.+?)\r?$", head, re.IGNORECASE | re.MULTILINE)
            found.append(match.group(1).strip() if match else "")
        return found

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        with self.lock:
            for sock in self._sockets:
                _close(sock)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                _close(client)
                continue
            buffer = bytearray()
            with self.lock:
                self._requests.append(buffer)
                self._sockets += [client, server]
            threading.Thread(target=self._to_server, args=(client, server, buffer), daemon=True).start()
            threading.Thread(target=self._to_client, args=(server, client), daemon=True).start()

    def _to_server(self, client: socket.socket, server: socket.socket, buffer: bytearray) -> None:
        try:
            while data := client.recv(65536):
                with self.lock:
                    buffer.extend(data)
                server.sendall(data)
        except OSError:
            pass
        finally:
            _close(server)

    def _to_client(self, server: socket.socket, client: socket.socket) -> None:
        try:
            while data := server.recv(65536):
                callback = None
                with self.lock:
                    if self._budget is not None and len(data) >= self._budget:
                        data, callback = data[: self._budget], self._on_cut or (lambda: None)
                        self._budget, self._on_cut = None, None
                        self.cuts += 1
                    elif self._budget is not None:
                        self._budget -= len(data)
                    self.sent_to_client += len(data)
                client.sendall(data)
                if callback is not None:
                    callback()  # before the client can notice the cut and retry
                    _close(client)
                    _close(server)
                    return
        except OSError:
            pass
        finally:
            _close(client)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
