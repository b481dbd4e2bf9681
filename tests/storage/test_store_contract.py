"""One contract, two stores: a local folder and S3 on a real S3-protocol server (moto) on loopback."""
import datetime as dt
import hashlib
import io
import os
import time

import pytest
import requests
from minio import Minio

from registry.domain.errors import ArtifactTooLarge, DigestMismatch, IncompleteUpload
from registry.storage import blob_key
from registry.storage.local import LocalStore
from registry.storage.s3 import S3Store

MB = 1 << 20


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "artifacts")
    endpoint = request.getfixturevalue("s3_endpoint")
    client = Minio(endpoint, access_key="testing", secret_key="testing", secure=False,
                   region="us-east-1")
    s3 = S3Store(client, f"bucket-{abs(hash(request.node.name)) % 10**9}")
    s3.ensure_bucket()
    return s3


class BrokenStream(io.RawIOBase):
    """A client that goes away after sending some bytes."""

    def __init__(self, before: int) -> None:
        self.left = before

    def readinto(self, buffer) -> int:
        if self.left <= 0:
            raise ConnectionResetError("client went away")
        count = min(len(buffer), self.left)
        buffer[:count] = b"x" * count
        self.left -= count
        return count


def _all(store, sha, start=0, length=None) -> bytes:
    return b"".join(store.read(sha, start, length))


def test_round_trip(store):
    data = os.urandom(3 * MB + 17)
    blob = store.put(io.BytesIO(data), max_bytes=10 * MB)
    assert (blob.sha256, blob.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert store.size(blob.sha256) == len(data)
    assert _all(store, blob.sha256) == data


def test_identical_bytes_stored_once(store):
    first = store.put(io.BytesIO(b"same"), max_bytes=MB)
    second = store.put(io.BytesIO(b"same"), max_bytes=MB)
    assert first == second
    assert [entry[0] for entry in store.blobs()] == [first.sha256]


def test_storing_again_refreshes_the_age(store):
    """Garbage collection's grace period must cover a re-upload of old identical bytes."""
    sha = store.put(io.BytesIO(b"again"), max_bytes=MB).sha256
    [(_, _, first)] = list(store.blobs())
    time.sleep(1.1)  # S3 Last-Modified has one-second resolution
    assert store.put(io.BytesIO(b"again"), max_bytes=MB).sha256 == sha
    [(_, _, second)] = list(store.blobs())
    assert second > first


def test_digest_mismatch_leaves_nothing(store):
    with pytest.raises(DigestMismatch):
        store.put(io.BytesIO(b"payload"), max_bytes=MB, expected_sha256="0" * 64)
    assert list(store.blobs()) == []
    good = hashlib.sha256(b"payload").hexdigest()
    assert store.put(io.BytesIO(b"payload"), max_bytes=MB, expected_sha256=good).sha256 == good


def test_too_large_leaves_nothing(store):
    with pytest.raises(ArtifactTooLarge):
        store.put(io.BytesIO(b"x" * (2 * MB)), max_bytes=MB)
    assert list(store.blobs()) == []


def test_interrupted_upload_leaves_nothing(store):
    with pytest.raises(ConnectionResetError):
        store.put(BrokenStream(before=MB + 5), max_bytes=10 * MB)
    assert list(store.blobs()) == []


def test_short_body_leaves_nothing(store):
    with pytest.raises(IncompleteUpload):
        store.put(io.BytesIO(b"x" * 5000), max_bytes=MB, expected_size=1_000_000)
    assert list(store.blobs()) == []


@pytest.mark.parametrize("start, length", [(0, 1), (10, 100), (MB - 3, 10), (MB + 100, None)])
def test_range_reads(store, start, length):
    data = os.urandom(MB + 200)
    sha = store.put(io.BytesIO(data), max_bytes=10 * MB).sha256
    end = None if length is None else start + length
    assert _all(store, sha, start, length) == data[start:end]


def test_missing_blob(store):
    assert store.size("a" * 64) is None
    store.delete("a" * 64)  # no error


def test_delete(store):
    sha = store.put(io.BytesIO(b"bye"), max_bytes=MB).sha256
    store.delete(sha)
    assert store.size(sha) is None


def test_presigned_url(store):
    sha = store.put(io.BytesIO(b"direct"), max_bytes=MB).sha256
    url = store.presigned_url(sha, dt.timedelta(minutes=15))
    if isinstance(store, LocalStore):
        assert url is None
        return
    assert blob_key(sha) in url and "X-Amz-Expires=900" in url
    assert requests.get(url, timeout=10).content == b"direct"


def test_blobs_lists_size_and_time(store):
    sha = store.put(io.BytesIO(b"12345"), max_bytes=MB).sha256
    [(listed, size, modified)] = list(store.blobs())
    assert (listed, size) == (sha, 5)
    assert abs(modified - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
