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
