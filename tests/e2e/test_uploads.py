"""A client that drops the connection mid-upload leaves no file recorded and no blob behind."""
import socket
import time
from pathlib import Path

import requests

from tests.e2e.conftest import free_port, gunicorn_command, running


def test_dropped_upload_records_nothing(tmp_path):
    port, data = free_port(), tmp_path / "data"
    url = f"http://127.0.0.1:{port}"
    env = {"MODELYARD_SERVER_DATA_DIR": str(data), "DATABASE_URL": "", "MODELYARD_CONFIG": ""}
    with running(gunicorn_command(port), url, env=env):
        requests.post(f"{url}/api/v1/models", json={"name": "m"}).raise_for_status()
        requests.post(f"{url}/api/v1/models/m/versions", json={}).raise_for_status()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"PUT /api/v1/models/m/versions/1/files/a.bin HTTP/1.1\r\n"
                         b"Host: x\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 5000)
        time.sleep(1)
        assert requests.get(f"{url}/api/v1/models/m/versions/1/files").json() == []
        assert list(Path(data, "artifacts").glob("sha256/*/*")) == []
        assert list(Path(data, "artifacts", "incoming").iterdir()) == []
        ok = requests.put(f"{url}/api/v1/models/m/versions/1/files/a.bin", data=b"y" * 10)
        assert ok.status_code == 201


def test_uploads_through_gunicorn_limits_chunks_digests_and_keep_alive(tmp_path):
    """gunicorn's body stream is read directly (no werkzeug wrapper): the limit, chunked
    bodies, digests and the connection's next request must all still be right."""
    import base64
    import hashlib

    port, data = free_port(), tmp_path / "data"
    url = f"http://127.0.0.1:{port}"
    env = {"MODELYARD_SERVER_DATA_DIR": str(data), "DATABASE_URL": "", "MODELYARD_CONFIG": "",
           "MODELYARD_STORAGE_MAX_FILE_BYTES": "3000000"}
    with running(gunicorn_command(port), url, env=env):
        session = requests.Session()  # one keep-alive connection for everything below
        session.post(f"{url}/api/v1/models", json={"name": "m"}).raise_for_status()
        session.post(f"{url}/api/v1/models/m/versions", json={}).raise_for_status()
        files = f"{url}/api/v1/models/m/versions/1/files"
        too_big = session.put(f"{files}/big.bin", data=b"z" * 3_000_001)
        assert too_big.status_code == 413 and too_big.json()["type"].endswith("/file-too-large")
        try:  # the server stops reading at the limit; the client may see the 413 or a reset
            chunked_too_big = session.put(f"{files}/big.bin", data=iter([b"z" * 1_000_000] * 4))
            assert chunked_too_big.status_code == 413
        except requests.ConnectionError:
            pass
        # a server that stopped reading a chunked body closes that connection after its 413 (it
        # cannot find the next request's start); the client learns it only on its next request
        session = requests.Session()
        body = bytes(range(256)) * 10_000
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        wrong = session.put(f"{files}/a.bin", data=body[:-1] + b"!",
                            headers={"Content-Digest": f"sha-256=:{digest}:"})
        assert wrong.status_code == 422
        chunked = session.put(f"{files}/a.bin", data=iter([body[:1000], body[1000:]]),
                              headers={"Content-Digest": f"sha-256=:{digest}:"})
        assert chunked.status_code == 201 and chunked.json()["size"] == len(body)
        plain = session.put(f"{files}/b.bin", data=body)
        assert plain.json()["sha256"] == hashlib.sha256(body).hexdigest()
        assert session.get(f"{files}/b.bin").content == body
        assert [f["path"] for f in session.get(files).json()] == ["a.bin", "b.bin"]  # no big.bin
        assert len(list(Path(data, "artifacts").glob("sha256/*/*"))) == 1  # dedup: one blob
        assert list(Path(data, "artifacts", "incoming").iterdir()) == []
