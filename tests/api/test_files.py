import base64
import hashlib
import os

import pytest

from tests.api.helpers import assert_problem, create_model, create_version

URL = "/api/v1/models/fraud/versions/1/files"


@pytest.fixture
def version(client):
    create_model(client)
    create_version(client)
    return client


def digest_header(data: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"


def test_upload_list_download(version):
    data = os.urandom(300_000)
    response = version.put(f"{URL}/weights/model.bin", data=data,
                           headers={"Content-Digest": digest_header(data)},
                           content_type="application/octet-stream")
    assert response.status_code == 201
    assert response.json == {"path": "weights/model.bin", "size": len(data),
                             "sha256": hashlib.sha256(data).hexdigest()}
    assert version.get(URL).json == [response.json]
    download = version.get(f"{URL}/weights/model.bin")
    assert download.status_code == 200 and download.data == data
    assert download.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert download.headers["Content-Length"] == str(len(data))


def test_range_download(version):
    data = bytes(range(256)) * 100
    version.put(f"{URL}/a.bin", data=data)
    part = version.get(f"{URL}/a.bin", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    tail = version.get(f"{URL}/a.bin", headers={"Range": "bytes=-10"})
    assert tail.data == data[-10:]
    beyond = assert_problem(version.get(f"{URL}/a.bin", headers={"Range": "bytes=999999-"}), 416)
    assert str(len(data)) in beyond["detail"]


def test_digest_mismatch_records_nothing(version):
    response = version.put(f"{URL}/a.bin", data=b"abc", headers={"Content-Digest": digest_header(b"x")})
    assert_problem(response, 422)
    assert version.get(URL).json == []
    assert_problem(version.put(f"{URL}/a.bin", data=b"abc", headers={"Content-Digest": "sha-256=:zz:"}),
                   422)


def test_size_limit(backend):
    from registry.app import create_app
    app = create_app({**backend, "storage": {"max_file_bytes": 1000}}, environ={})
    client = app.test_client()
    create_model(client)
    create_version(client)
    assert_problem(client.put(f"{URL}/big.bin", data=b"x" * 1001), 413)
    assert client.get(URL).json == []
    assert client.put(f"{URL}/ok.bin", data=b"x" * 1000).status_code == 201


BAD_PATHS = ["../x", "a/../../b", "%2e%2e/x", "a%5Cb", "a//b", "C:%5Cx", "C:x", "x" * 1100,
             "./a", "%2Fetc/passwd", "/etc/passwd", "a/", "a/./b", "a%0Ab", "u%CC%88", "a/..",
             "%252e%252e/x", "a/" + "y" * 300]


@pytest.mark.parametrize("path", BAD_PATHS, ids=lambda p: p[:20])
def test_bad_paths_get_422_and_write_nothing(version, path):
    response = version.put(f"{URL}/{path}", data=b"data")
    assert_problem(response, 422)
    assert version.get(URL).json == []
    assert version.get("/api/v1/events").json["last_seq"] == 2


def test_an_overlong_url_gets_a_414_problem_and_writes_nothing(version):
    assert_problem(version.put(f"{URL}/{'x' * 5000}", data=b"data"), 414)
    assert version.get(URL).json == []


def test_nul_in_path_is_refused(version):
    assert_problem(version.put(f"{URL}/a%00b", data=b"data"), 400)
    assert version.get(URL).json == []


def test_unknown_file_and_version(version):
    assert_problem(version.get(f"{URL}/missing.bin"), 404)
    assert_problem(version.put("/api/v1/models/fraud/versions/9/files/a.bin", data=b"x"), 404)


def test_finalize_route(version):
    assert_problem(version.post("/api/v1/models/fraud/versions/1/finalize"), 422)
    version.put(f"{URL}/a.bin", data=b"x")
    ready = version.post("/api/v1/models/fraud/versions/1/finalize")
    assert ready.status_code == 200 and ready.json["status"] == "ready"
    assert_problem(version.put(f"{URL}/b.bin", data=b"y"), 409)
    types = [e["type"] for e in version.get("/api/v1/events").json["items"]]
    assert types[-2:] == ["version.file_uploaded", "version.ready"]


def test_s3_store_serves_ranges_and_presigned_redirects(backend, s3_endpoint):
    import requests

    from registry.app import create_app
    storage = {"backend": "s3", "s3_endpoint": s3_endpoint, "s3_bucket": "api-test",
               "s3_access_key": "testing", "s3_secret_key": "testing", "s3_secure": False,
               "presign_ttl_s": 600}
    client = create_app({**backend, "storage": storage}, environ={}).test_client()
    create_model(client)
    create_version(client)
    data = os.urandom(50_000)
    assert client.put(f"{URL}/m.bin", data=data).status_code == 201
    assert client.get(f"{URL}/m.bin", headers={"Range": "bytes=10-19"}).data == data[10:20]
    redirect = client.get(f"{URL}/m.bin?redirect=true")
    assert redirect.status_code == 302 and "X-Amz-Expires=600" in redirect.headers["Location"]
    assert requests.get(redirect.headers["Location"], timeout=10).content == data
    assert client.get("/readyz").json["checks"]["artifact_store"] == "ok"


def test_json_files_are_bytes_not_api_bodies(version):
    """A 2 MiB tokenizer.json sent as application/json is a file, not a request body to parse."""
    data = b'{"vocab": [' + b'"\\u0000", ' * 200_000 + b'"end"]}'
    response = version.put(f"{URL}/tokenizer.json", data=data, content_type="application/json")
    assert response.status_code == 201 and response.json["size"] == len(data)
    assert version.get(f"{URL}/tokenizer.json").data == data
