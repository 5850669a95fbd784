"""A loopback HTTP proxy in front of a real node, failing on demand the way a node does: accepting
and never answering, answering half and going silent (a half-open connection), answering half and
closing, or answering a byte at a time. Requests that arrive while it is `up` go to the node."""
from __future__ import annotations

import re
import socket
import threading
from typing import Literal
from urllib.parse import urlparse

Mode = Literal["up", "hung", "stalled", "cut", "slow"]


def read_message(sock: socket.socket) -> bytes:
    """One HTTP/1.1 message with a Content-Length body (web3's requests and anvil's answers are so).
    Empty when the peer closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        body += chunk
    return head + b"\r\n\r\n" + body


class FlakyNode:
    def __init__(self, upstream_url: str, slow_answer: float = 4.0):
        upstream = urlparse(upstream_url)
        self.upstream = (upstream.hostname, upstream.port)
        self.slow_answer = slow_answer  # seconds a `slow` answer takes, a byte at a time
        self.mode: Mode = "up"
        self.slow_answers = 0  # answers delivered in full while `slow`
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.closed = threading.Event()
        self.clients: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        """Stop accepting and drop every connection (ends the threads of the loops below)."""
        self.closed.set()
        self.listener.close()
        with self.lock:
            for client in self.clients:
                try:
                    client.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            with self.lock:
                self.clients.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            try:
                while not self.closed.is_set() and (request := read_message(client)):
                    mode = self.mode
                    if mode == "hung":
                        continue  # read and never answer: the client's timeout ends the connection
                    answer = self._ask_node(request)
                    if mode == "up":
                        client.sendall(answer)
                    elif mode == "slow":
                        for i in range(len(answer)):  # each byte well within the client's read timeout
                            if self.closed.wait(self.slow_answer / len(answer)):
                                return
                            client.sendall(answer[i:i + 1])
                        self.slow_answers += 1
                    else:
                        client.sendall(answer[:len(answer) // 2])
                        if mode == "cut":
                            return
                        self.closed.wait(60)  # stalled: the rest never comes, nor does a close (bounded)
                        return
            except OSError:  # the client gave up, or close()
                pass
            finally:
                with self.lock:
                    self.clients.discard(client)

    def _ask_node(self, request: bytes) -> bytes:
        with socket.create_connection(self.upstream, timeout=10) as node:
            node.sendall(request)
            return read_message(node)

