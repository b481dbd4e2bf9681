"""The service as users run it: `modelyard serve`, and gunicorn with several workers."""
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from standardwebhooks import Webhook

from tests.e2e.conftest import free_port, gunicorn_command, running


def test_modelyard_serve_creates_its_data_and_serves(tmp_path):
    port, data = free_port(), tmp_path / "fresh" / "data"
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "registry", "serve", "--port", str(port),
               "--data-dir", str(data)]
    with running(command, url, env={"MODELYARD_CONFIG": "", "DATABASE_URL": ""}):
        assert requests.get(f"{url}/readyz").json()["status"] == "ok"
        assert requests.post(f"{url}/api/v1/models", json={"name": "m"}).status_code == 201
        assert requests.get(f"{url}/docs/assets/swagger-ui-bundle.js").status_code == 200
        assert "modelyard" in requests.get(f"{url}/metrics").text.lower() or \
            "flask_http_request" in requests.get(f"{url}/metrics").text
    assert (data / "modelyard.db").exists()
    with running(command, url, env={"MODELYARD_CONFIG": "", "DATABASE_URL": ""}):  # restart keeps data
        assert requests.get(f"{url}/api/v1/models/m").status_code == 200


def test_two_gunicorn_workers_number_versions_without_gaps(backend, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"MODELYARD_SERVER_DATA_DIR": backend["server"]["data_dir"],
           "DATABASE_URL": backend.get("database", {}).get("url", ""), "MODELYARD_CONFIG": ""}
    with running(gunicorn_command(port), url, env=env):
        assert requests.post(f"{url}/api/v1/models", json={"name": "busy"}).status_code == 201

        def register(_):
            with requests.Session() as session:
                return [session.post(f"{url}/api/v1/models/busy/versions", json={}).status_code
                        for _ in range(50)]

        with ThreadPoolExecutor(8) as pool:
            codes = [code for batch in pool.map(register, range(8)) for code in batch]
        assert codes == [201] * 400
        page = requests.get(f"{url}/api/v1/models/busy/versions?order_by=version&limit=1000").json()
        assert [item["version"] for item in page["items"]] == list(range(1, 401))


def test_every_worker_sees_a_move_as_soon_as_it_returns(backend):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"MODELYARD_SERVER_DATA_DIR": backend["server"]["data_dir"],
           "DATABASE_URL": backend.get("database", {}).get("url", ""), "MODELYARD_CONFIG": ""}
    with running(gunicorn_command(port), url, env=env):
        models = f"{url}/api/v1/models"
        requests.post(models, json={"name": "live"})
        for number in range(1, 4):
            requests.post(f"{models}/live/versions", json={"source_uri": "s3://b/m"})
            requests.post(f"{models}/live/versions/{number}/finalize")

        def reads(_):  # fresh connections, so both workers answer
            return {requests.get(f"{models}/live/production").json()["version"] for _ in range(10)}

        with ThreadPoolExecutor(8) as pool:
            for body, expected in (({"version": 1}, 1), ({"version": 3}, 3), (None, 1)):
                if body:
                    response = requests.post(f"{models}/live/promote", json=body)
                else:
                    response = requests.post(f"{models}/live/rollback", json={"to_version": 1})
                assert response.status_code == 200, response.text
                seen = set().union(*pool.map(reads, range(16)))
                assert seen == {expected}


def test_modelyard_serve_delivers_webhooks_itself(tmp_path, httpserver):
    """The single-node default needs no separate worker."""
    httpserver.expect_request("/hook").respond_with_data("ok")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "registry", "serve", "--port", str(port),
               "--data-dir", str(tmp_path / "data")]
    env = {"MODELYARD_CONFIG": "", "DATABASE_URL": "", "MODELYARD_WEBHOOK_ALLOW_HTTP": "true",
           "MODELYARD_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]'}
    with running(command, url, env=env):
        hook = requests.post(f"{url}/api/v1/webhooks", json={
            "url": httpserver.url_for("/hook"), "events": ["model.created"]})
        assert hook.status_code == 201
        assert requests.post(f"{url}/api/v1/models", json={"name": "m"}).status_code == 201
        deadline = time.monotonic() + 10
        while not httpserver.log and time.monotonic() < deadline:
            time.sleep(0.05)
    [(request, _)] = httpserver.log
    assert Webhook(hook.json()["secret"]).verify(request.get_data(), dict(request.headers))


def test_first_start_prints_a_one_time_admin_token(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "registry", "serve", "--port", str(port),
               "--data-dir", str(tmp_path / "data")]
    env = {"MODELYARD_CONFIG": "", "DATABASE_URL": "", "MODELYARD_AUTH_ENABLED": "true"}
    with running(command, url, env=env) as (_process, log):
        assert requests.get(f"{url}/api/v1/models").status_code == 401
        log.seek(0)
        output = log.read().decode()
        token = re.search(r"^  Token (myd_\S+)$", output, re.M).group(1)
        # the banner says where to go next; migration and scheduler details stay at debug
        assert f"  API   {url}/api/v1\n  Docs  {url}/docs\n" in output
        assert f"  Data  {tmp_path / 'data'} (SQLite)" in output
        assert "0001_initial" not in output and "Adding job" not in output
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{url}/api/v1/models", headers=headers).status_code == 200
    with running(command, url, env=env) as (_process, log):  # shown once only
        log.seek(0)
        assert "myd_" not in log.read().decode()


def test_without_auth_the_server_refuses_to_listen_beyond_loopback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "registry", "serve", "--host", "0.0.0.0",
                             "--data-dir", str(tmp_path / "data")], capture_output=True,
                            text=True, timeout=60,
                            env={**os.environ, "MODELYARD_CONFIG": "", "DATABASE_URL": "",
                                 "MODELYARD_AUTH_ENABLED": "false"})
    assert result.returncode != 0 and "only listen on loopback" in result.stderr
