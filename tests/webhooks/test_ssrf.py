"""The SSRF guard: non-public targets are refused before any connection is made."""
import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from cryptography.fernet import Fernet

from webhooks.settings import Settings
from webhooks.transport import post


class Canary:
    """A loopback listener that counts every TCP connection reaching it."""

    def __init__(self, host="127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port, self.connections = self.sock.getsockname()[1], 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


@pytest.fixture(scope="module")
def canary():
    listener = Canary()
    yield listener
    listener.sock.close()


@pytest.fixture(scope="module")
def redirector(canary):
    """An allowed receiver on 127.0.0.2 that redirects to the canary."""
    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{canary.port}/")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.2", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def settings(**kwargs):
    return Settings(fernet_key=Fernet.generate_key(), allow_http=True, connect_timeout_s=1,
                    attempt_timeout_s=2, **kwargs)


REFUSED = [
    "http://127.0.0.1:{port}/", "http://localhost:{port}/", "http://127.1:{port}/",
    "http://0x7f000001:{port}/", "http://2130706433:{port}/", "http://0177.0.0.1:{port}/",
    "http://127.0.0.1.:{port}/", "http://0.0.0.0:{port}/", "http://0:{port}/",
    "http://[::1]:{port}/", "http://[0:0:0:0:0:0:0:1]:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/", "http://[::ffff:7f00:1]:{port}/",
    "https://127.0.0.1:{port}/", "http://10.0.0.1:{port}/", "http://172.16.0.1:{port}/",
    "http://192.168.1.1:{port}/", "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]:{port}/", "http://100.64.0.1:{port}/", "http://[fd00::1]:{port}/",
    "http://224.0.0.1:{port}/", "http://[::]:{port}/",
]


@pytest.mark.parametrize("template", REFUSED)
def test_non_public_targets_are_refused_without_a_connection(canary, template):
    before = canary.connections
    outcome = post(template.format(port=canary.port), b"{}", {}, settings())
    # a name that does not resolve (`127.0.0.1.` here) is retried later, never connected
    assert outcome.status_code is None, outcome
    assert outcome.error.startswith(("refused", "cannot resolve")), outcome
    assert canary.connections == before


@pytest.mark.parametrize("url, reason", [
    ("ftp://example.com/", "https"), ("http://user:pw@example.com/", "user"),
    ("http:///path", "host"), ("http://example.com:99999/", "port"),
])
def test_malformed_urls_are_refused(url, reason):
    outcome = post(url, b"{}", {}, settings())
    assert outcome.error.startswith("refused") and reason in outcome.error


def test_http_needs_the_setting(canary):
    strict = Settings(fernet_key=Fernet.generate_key(), allowed_networks=(
        ipaddress.ip_network("127.0.0.0/8"),))
    before = canary.connections
    outcome = post(f"http://127.0.0.1:{canary.port}/", b"{}", {}, strict)
    assert outcome.error.startswith("refused") and "must use https" in outcome.error
    assert canary.connections == before


def test_a_redirect_to_loopback_is_not_followed(canary, redirector):
    before = canary.connections
    allowed = settings(allowed_networks=(ipaddress.ip_network("127.0.0.2/32"),))
    outcome = post(f"http://127.0.0.2:{redirector}/hook", b"{}", {}, allowed)
    assert outcome.status_code == 302
    assert canary.connections == before


def test_an_allowed_network_is_reached(canary):
    before = canary.connections
    allowed = settings(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    post(f"http://127.0.0.1:{canary.port}/", b"{}", {}, allowed)
    assert canary.connections == before + 1
