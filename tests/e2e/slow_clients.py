"""Clients that send a request a byte at a time (slowloris), for tests and scripts/bench."""
from __future__ import annotations

import socket
import threading
import time

BYTE_EVERY_S = 0.08


def _dribble(port: int, opening: bytes, slow_part: bytes, until: float) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(opening)
            for byte in slow_part:
                if time.monotonic() > until:
                    return
                sock.sendall(bytes([byte]))
                time.sleep(BYTE_EVERY_S)
    except OSError:  # the server cut us off: what it should do in the end
        pass


def slow_header_request() -> tuple[bytes, bytes]:
    """A GET whose head arrives byte by byte (nothing is known before the head ends)."""
    return b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 400 + b"\r\n\r\n"


def slow_body_request(token: str) -> tuple[bytes, bytes]:
    """An authorised POST whose 60-byte body arrives byte by byte."""
    body = b'{"name": "slow-' + b"x" * 35 + b'", "tags": {"a": "b"}}'
    head = (f"POST /api/v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    return head, body


def start_slow_clients(port: int, count: int, token: str, seconds: float) -> list[threading.Thread]:
    """`count` slow clients, half dribbling a head and half a body, for at most `seconds`."""
    until = time.monotonic() + seconds
    threads = []
    for number in range(count):
        opening, slow_part = slow_header_request() if number % 2 else slow_body_request(token)
        thread = threading.Thread(target=_dribble, args=(port, opening, slow_part, until),
                                  daemon=True)
        thread.start()
        threads.append(thread)
    return threads
