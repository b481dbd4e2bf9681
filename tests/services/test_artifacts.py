import datetime as dt
import io
import subprocess
import sys

import pytest

from registry.domain.errors import Conflict, InvalidInput
from registry.services import artifacts
from registry.services import models as model_service
from registry.services import versions as version_service


@pytest.fixture
def store(app, db):
    model_service.create_model("m", actor="t")
    version_service.register_version("m", {}, actor="t")
    return app.extensions["modelyard_store"]


def upload(store, path, data, number=1):
    return artifacts.upload_file("m", number, path, io.BytesIO(data), store=store, actor="t",
                                 max_bytes=1 << 20)


def test_finalize_freezes_files(store):
    upload(store, "a.bin", b"aaa")
    view = artifacts.finalize_version("m", 1, actor="t")
    assert view["status"] == "ready"
    with pytest.raises(Conflict):
        upload(store, "b.bin", b"bbb")
    assert artifacts.finalize_version("m", 1, actor="t")["status"] == "ready"  # retry is harmless


def test_empty_version_needs_source_uri(store):
    with pytest.raises(InvalidInput):
        artifacts.finalize_version("m", 1, actor="t")
    version_service.register_version("m", {"source_uri": "s3://elsewhere/model"}, actor="t")
    assert artifacts.finalize_version("m", 2, actor="t")["status"] == "ready"


def test_verify_finds_missing_and_corrupt_blobs(store, tmp_path):
    entry = upload(store, "a.bin", b"hello")
    assert artifacts.verify_version("m", 1, store=store, rehash=True)["ok"]
    blob = store.root / "sha256" / entry["sha256"][:2] / entry["sha256"][2:]
    blob.write_bytes(b"HELLO")  # same size, different bytes
    assert artifacts.verify_version("m", 1, store=store)["ok"]
    report = artifacts.verify_version("m", 1, store=store, rehash=True)
    assert not report["ok"] and "sha256" in report["files"][0]["problem"]
    blob.unlink()
    assert "missing" in artifacts.verify_version("m", 1, store=store)["files"][0]["problem"]


def test_gc_removes_only_old_unreferenced_blobs(store):
    kept = upload(store, "a.bin", b"kept")["sha256"]
    orphan = store.put(io.BytesIO(b"orphan"), max_bytes=100).sha256
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    assert artifacts.collect_garbage(store=store, grace=dt.timedelta(hours=1)) == []  # too young
    assert artifacts.collect_garbage(store=store, grace=dt.timedelta(hours=1), now=later,
                                     dry_run=True) == [orphan]
    assert store.size(orphan) == 6
    assert artifacts.collect_garbage(store=store, grace=dt.timedelta(hours=1), now=later) == [orphan]
    assert store.size(orphan) is None and store.size(kept) == 4


def test_cli_verify_exit_codes(app, backend, store):
    entry = upload(store, "a.bin", b"hello")
    env = {"PATH": "", "HOME": backend["server"]["data_dir"], "MODELYARD_CONFIG": "",
           "MODELYARD_SERVER_DATA_DIR": backend["server"]["data_dir"],
           "DATABASE_URL": backend.get("database", {}).get("url", "")}
    command = [sys.executable, "-m", "registry", "artifacts", "verify", "m", "1"]
    assert subprocess.run(command, env=env, capture_output=True).returncode == 0
    (store.root / "sha256" / entry["sha256"][:2] / entry["sha256"][2:]).unlink()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    assert result.returncode == 1 and "a.bin: missing" in result.stdout
