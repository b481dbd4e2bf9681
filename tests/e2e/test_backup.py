"""`modelyard backup` while the server serves and four threads write; `modelyard restore` into an
empty data folder; the restored server answers the same models, holders, history and files."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading

import pytest

from registry.client import Client
from tests.e2e.conftest import free_port, running

TOKEN = "myd_" + "b" * 40


def modelyard(*args: str, data_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "MODELYARD_CONFIG": "", "DATABASE_URL": ""}
    return subprocess.run([sys.executable, "-m", "registry", *args, "--data-dir", str(data_dir)],
                          env=env, capture_output=True, text=True, timeout=300)


def serve(port: int, data_dir):
    env = {"MODELYARD_CONFIG": "", "DATABASE_URL": "", "MODELYARD_AUTH_ENABLED": "true",
           "MODELYARD_ADMIN_TOKEN": TOKEN, "MODELYARD_SCHEDULE_RUN_IN_SERVE": "false"}
    return running([sys.executable, "-m", "registry", "serve", "--port", str(port),
                    "--data-dir", str(data_dir)], f"http://127.0.0.1:{port}", env=env)


def folder(root, content: bytes):
    root.mkdir(parents=True)
    (root / "weights.bin").write_bytes(content * 50_000)
    (root / "config.json").write_text('{"layers": 2}')
    return root


def snapshot(client: Client, model: str) -> dict:
    versions = client.list_versions(model, limit=1000)
    return {"holder": client.production(model)["version"],
            "history": [(m["action"], m["from_version"], m["to_version"], m["actor"])
                        for m in client.history(model, stage="production")],
            "files": {v["version"]: sorted((f["path"], f["sha256"]) for f in
                                           client.list_files(model, v["version"]))
                      for v in versions}}


def write_until(client: Client, model: str, stop: threading.Event, tmp_path, made: list) -> None:
    client.create_model(model)
    number = 0
    while not stop.is_set():
        number += 1
        version = client.register(model, folder(tmp_path / f"{model}-{number}",
                                                f"{model}{number}".encode()))
        client.promote(model, version["version"])
        made.append((model, version["version"]))


@pytest.mark.slow
def test_backup_while_writing_then_restore_into_an_empty_data_folder(tmp_path):
    data, restored = tmp_path / "data", tmp_path / "restored"
    port = free_port()
    with serve(port, data):
        client = Client(f"http://127.0.0.1:{port}", TOKEN)
        for number, content in enumerate([b"one", b"two", b"three"], start=1):
            client.register("fraud", folder(tmp_path / f"fraud-{number}", content))
            client.promote("fraud", number)
        client.rollback("fraud", reason="drill")
        before = snapshot(client, "fraud")

        stop, made = threading.Event(), []
        writers = [threading.Thread(target=write_until, args=(
            Client(f"http://127.0.0.1:{port}", TOKEN), f"busy-{n}", stop, tmp_path, made))
            for n in range(4)]
        for writer in writers:
            writer.start()
        while len(made) < 8:  # every writer is under way
            threading.Event().wait(0.05)
        started_with = len(made)
        result = modelyard("backup", str(tmp_path / "backup"), data_dir=data)
        stop.set()
        for writer in writers:
            writer.join()
        assert result.returncode == 0, result.stderr
        assert "backed up" in result.stdout
        original = {f"busy-{n}": {v["version"]: v["files"] for v in
                                  client.list_versions(f"busy-{n}", limit=1000)}
                    for n in range(4)}

    assert modelyard("restore", str(tmp_path / "backup"), data_dir=restored).returncode == 0
    assert modelyard("audit", "verify", data_dir=restored).returncode == 0
    again = modelyard("restore", str(tmp_path / "backup"), data_dir=restored)
    assert again.returncode == 4 and "restore into a data folder with no database" in again.stderr

    port = free_port()
    with serve(port, restored):
        client = Client(f"http://127.0.0.1:{port}", TOKEN)
        assert snapshot(client, "fraud") == before
        for number in (1, 2, 3):
            got = client.download("fraud", number, tmp_path / f"check-{number}")
            weights = (tmp_path / f"check-{number}" / "weights.bin").read_bytes()
            expected = dict(before["files"][number])["weights.bin"]
            assert hashlib.sha256(weights).hexdigest() == expected, got
        restored_count = 0
        for model, versions in original.items():
            items = client.list_versions(model, limit=1000)
            restored_count += len(items)
            for item in items:  # each restored version is one the server had, with its files
                if item["status"] == "ready":
                    assert item["files"] == versions[item["version"]]
            holder = client.production(model)["version"] if any(
                v["stage"] == "production" for v in items) else None
            ready = [v["version"] for v in items if v["status"] == "ready"]
            # a copy taken between a version's finalize and its promote holds the one before
            assert holder is None or holder in (max(ready), max(ready) - 1)
        assert restored_count >= started_with


def test_backup_and_restore_refuse_unusable_input_in_one_line(tmp_path):
    data = tmp_path / "data"
    assert modelyard("db", "upgrade", data_dir=data).returncode == 0
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    into_a_file = modelyard("backup", str(blocked / "backup"), data_dir=data)
    assert into_a_file.returncode == 1 and "Traceback" not in into_a_file.stderr
    assert str(blocked) in into_a_file.stderr

    fake = tmp_path / "fake-backup"
    fake.mkdir()
    (fake / "manifest.json").write_text('{"format": 1}')
    no_database = modelyard("restore", str(fake), data_dir=tmp_path / "restored")
    assert no_database.returncode == 2 and "Traceback" not in no_database.stderr
    assert "is not a readable Modelyard database" in no_database.stderr
    assert not (fake / "modelyard.db").exists()  # reading never creates an empty database
    assert not (tmp_path / "restored" / "modelyard.db").exists()

    on_postgres = subprocess.run(
        [sys.executable, "-m", "registry", "restore", str(fake)], capture_output=True, text=True,
        timeout=120, env={**os.environ, "MODELYARD_CONFIG": "",
                          "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert on_postgres.returncode == 2 and "pg_dump" in on_postgres.stderr
