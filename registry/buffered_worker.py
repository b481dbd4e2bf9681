"""A gunicorn gthread worker that reads each request before a thread takes it.

Plain gthread hands a connection to a thread as soon as its first byte arrives, and the thread
then blocks until the rest comes. Clients that send their headers, or a small body, a byte at a
time (slowloris) so hold every thread and starve `/healthz` and the stage look-ups. Here the
worker's event loop collects the request head, and a body of up to `body_buffer_bytes`, without
blocking; only a whole request reaches a thread. A request not whole within
`request_timeout_s` of its first byte wait is answered 408 and closed. Larger bodies (artifact
uploads, which need an editor token) are streamed by the thread as before, and a thread reading
one gives up after `request_timeout_s` without a byte.

Heads are capped too: a request line over `MAX_HEAD_BYTES` gets a 414 problem, other heads
that large a 431 (gunicorn's own limits would answer in HTML).
"""
from __future__ import annotations

import json
import selectors
import socket
import time
import uuid
from functools import partial

from gunicorn.workers.gthread import TConn, ThreadWorker

MAX_HEAD_BYTES = 64 * 1024
READ_CHUNK = 64 * 1024
WAIT, HAND_OVER = "wait", "hand over"
REASONS = {408: "Request Timeout", 414: "URI Too Long", 431: "Request Header Fields Too Large"}
DETAILS = {408: "The request was not received in time.",
           414: "The request line is too long.",
           431: "The request's header fields are too large."}


def _declared_body(head: bytes) -> tuple[int | None, bool]:
    """(Content-Length or None, whether the body must not be waited for here)."""
    length, stream = None, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value) if value.isdigit() else None
            stream = stream or length is None  # malformed: gunicorn answers 400
        elif name == b"transfer-encoding" or (name == b"expect" and value == b"100-continue"):
            stream = True  # chunked, or a client that waits for 100 Continue before its body
    return length, stream


def request_progress(received: bytes, body_buffer_bytes: int) -> str | int:
    """WAIT for more bytes, HAND_OVER to a thread, or an HTTP status to refuse the request."""
    head_end = received.find(b"\r\n\r\n")
    if head_end < 0:
        if len(received) <= MAX_HEAD_BYTES:
            return WAIT
        return 431 if b"\r\n" in received[:MAX_HEAD_BYTES] else 414
    if head_end > MAX_HEAD_BYTES:
        return 431 if received.find(b"\r\n") < MAX_HEAD_BYTES else 414
    length, stream = _declared_body(received[:head_end])
    if stream or not length or length > body_buffer_bytes:
        return HAND_OVER
    return HAND_OVER if len(received) - head_end - 4 >= length else WAIT


def refusal(status: int) -> bytes:
    """A complete problem+json response that closes the connection."""
    body = json.dumps({"type": f"https://modelyard.dev/problems/{status}",
                       "title": REASONS[status], "status": status, "detail": DETAILS[status],
                       "instance": f"urn:uuid:{uuid.uuid4()}"}).encode()
    head = (f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: application/problem+json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode() + body


class BufferingWorker(ThreadWorker):
    """gthread, with whole requests (head and small body) read on the event loop."""

    request_timeout_s: float = 10.0
    body_buffer_bytes: int = 1024 * 1024

    def init_process(self):
        self.reading: dict = {}  # connection -> (bytes so far, deadline)
        super().init_process()

    def accept(self, listener):
        if self.cfg.is_ssl:  # TLS bytes cannot be read raw; gthread's own path then
            return super().accept(listener)
        try:
            client, address = listener.accept()
        except (BlockingIOError, ConnectionAbortedError):
            return
        self.nr_conns += 1
        self._start_reading(TConn(self.cfg, client, address, listener.getsockname()))

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection has a new request: read it here first too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._start_reading(conn)

    def _start_reading(self, conn) -> None:
        conn.sock.setblocking(False)
        self.reading[conn] = (bytearray(), time.monotonic() + self.request_timeout_s)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_bytes, conn))
        self._on_bytes(conn, conn.sock)  # a kept-alive request may be readable already

    def _on_bytes(self, conn, _sock) -> None:
        if conn not in self.reading:
            return
        received, _deadline = self.reading[conn]
        try:
            data = conn.sock.recv(READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            return self._close(conn)
        received += data
        progress = request_progress(bytes(received), self.body_buffer_bytes)
        if progress == HAND_OVER:
            self._hand_over(conn, bytes(received))
        elif progress != WAIT:
            self._refuse(conn, progress)

    def _hand_over(self, conn, received: bytes) -> None:
        self._stop_reading(conn)
        conn.buffered, conn.data_ready = received, True
        self.enqueue_req(conn)

    def _stop_reading(self, conn) -> None:
        del self.reading[conn]
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    def _close(self, conn) -> None:
        self._stop_reading(conn)
        self.nr_conns -= 1
        conn.close()

    def _refuse(self, conn, status: int) -> None:
        self.log.warning("refused a request from %s: %s", conn.client, REASONS[status])
        try:
            conn.sock.send(refusal(status))
        except OSError:
            pass
        self._close(conn)

    def murder_pending(self):
        """Also answer 408 to connections whose request is not whole by its deadline."""
        super().murder_pending()
        now = time.monotonic()
        for conn, (received, deadline) in list(self.reading.items()):
            if deadline > now:
                continue
            if received or not self.alive:
                self._refuse(conn, 408)
            else:
                self._close(conn)  # an idle kept-alive or silent connection: just close

    def handle(self, conn):
        received = conn.__dict__.pop("buffered", b"")
        if received:
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(received)
        return super().handle(conn)

    def handle_request(self, req, conn):
        """Bodies read by this thread (uploads) give up after a silence of the timeout."""
        conn.sock.settimeout(self.request_timeout_s)
        try:
            return super().handle_request(req, conn)
        except socket.timeout:
            self.log.warning("closed %s: its request body stalled for %s s", conn.client,
                             self.request_timeout_s)
            return False
        finally:
            if conn.sock.fileno() >= 0:
                conn.sock.settimeout(None)


def configured(request_timeout_s: float, body_buffer_bytes: int) -> type[BufferingWorker]:
    """The worker class with these limits (gunicorn takes a class, and forks it)."""
    return type("BufferingWorker", (BufferingWorker,),
                {"request_timeout_s": request_timeout_s, "body_buffer_bytes": body_buffer_bytes})
