"""How the serving worker decides a request has arrived whole (read on its event loop)."""
import pytest

from registry.buffered_worker import HAND_OVER, MAX_HEAD_BYTES, WAIT, refusal, request_progress

GET = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def post(body: bytes, *headers: bytes) -> bytes:
    extra = b"".join(header + b"\r\n" for header in headers)
    return (b"POST /api/v1/models HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n" % len(body)
            + extra + b"\r\n" + body)


@pytest.mark.parametrize("received, expected", [
    (b"GET /heal", WAIT),
    (GET[:-2], WAIT),
    (GET, HAND_OVER),
    (post(b'{"name": "m"}')[:-3], WAIT),            # head whole, body not yet
    (post(b'{"name": "m"}'), HAND_OVER),
    (post(b"x" * 2000)[:-1000], HAND_OVER),          # larger than the buffer: a thread streams it
    (post(b"{}", b"Transfer-Encoding: chunked")[:-2], HAND_OVER),
    (post(b"{}", b"Expect: 100-continue")[:-2], HAND_OVER),  # the client waits for 100 first
    (b"GET /" + b"a" * (MAX_HEAD_BYTES + 10), 414),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 10), 431),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 10) + b"\r\n\r\n", 431),
])
def test_request_progress(received, expected):
    assert request_progress(received, body_buffer_bytes=1024) == expected


def test_a_refusal_is_a_whole_problem_response_that_closes():
    head, _, body = refusal(408).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 Request Timeout")
    assert b"Connection: close" in head and b"Content-Length: %d" % len(body) in head
    assert b'"status": 408' in body
