"""Routes for a version's files: streamed upload, manifest, ranged download."""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import re

from flask import Response, current_app, redirect, request
from werkzeug.routing import PathConverter

from registry.api.blueprint import Blueprint
from registry.api.context import current_actor
from registry.api.problems import problem
from registry.api.schemas import FileSchema, VersionSchema
from registry.domain.errors import ArtifactTooLarge, InvalidInput
from registry.services import artifacts

blp = Blueprint("files", __name__, url_prefix="/api/v1", description="Version files")
FILE = "/models/<string:model>/versions/<int(min=1, max=2147483647):version>/files"
CONTENT_DIGEST = re.compile(r"sha-256=:([A-Za-z0-9+/=]+):")


class AnyPathConverter(PathConverter):
    """Every remaining character, so `/etc/passwd` or a newline reach validation (and a clear
    422) instead of falling through to a 404."""
    regex = r"[\s\S]+"
    part_isolating = False  # the value spans slashes


def _expected_sha256() -> str | None:
    """The sha-256 of an RFC 9530 Content-Digest header, as hex; other algorithms are ignored."""
    header = request.headers.get("Content-Digest")
    if header is None:
        return None
    match = CONTENT_DIGEST.search(header)
    try:
        raw = base64.b64decode(match.group(1), validate=True) if match else b""
    except binascii.Error:
        raw = b""
    if len(raw) != 32:
        raise InvalidInput("Content-Digest must carry sha-256=:<base64 of 32 bytes>:",
                           errors={"Content-Digest": ["invalid"]})
    return raw.hex()


def _body(limit: int):
    """The request body as a stream. A server that ends the stream at the body's end itself
    (gunicorn sets `wsgi.input_terminated`) gets its stream read directly, sparing werkzeug's
    wrapper two copies of every chunk; the store counts the bytes against `limit` either way."""
    if (request.content_length or 0) > limit:
        raise ArtifactTooLarge(f"the file is larger than the limit of {limit} bytes")
    if request.environ.get("wsgi.input_terminated"):
        return request.environ["wsgi.input"]
    request.max_content_length = limit
    return request.stream


@blp.route(f"{FILE}/<anypath:path>", methods=["PUT"])
@blp.response(201, FileSchema)
def upload(model, version, path):
    """Stream a file's bytes (any content type); `Content-Digest: sha-256=:...:` is verified."""
    limit = current_app.config["MODELYARD"]["storage"]["max_file_bytes"]
    return artifacts.upload_file(model, version, path, _body(limit),
                                 store=current_app.extensions["modelyard_store"],
                                 actor=current_actor(), max_bytes=limit,
                                 expected_sha256=_expected_sha256(),
                                 expected_size=request.content_length)


@blp.route(FILE, methods=["GET"])
@blp.response(200, FileSchema(many=True))
def manifest(model, version):
    """The version's files: path, size, sha256."""
    return artifacts.list_files(model, version)


def _file_response(entry: dict, store) -> Response:
    """The file's bytes, or the requested range of them (206); 416 for a range beyond the end."""
    size, status, start, length = entry["size"], 200, 0, entry["size"]
    digest = base64.b64encode(bytes.fromhex(entry["sha256"])).decode()
    headers = {"ETag": f'"{entry["sha256"]}"', "Accept-Ranges": "bytes",
               "Repr-Digest": f"sha-256=:{digest}:"}
    if request.range:
        byte_range = request.range.range_for_length(size)
        if byte_range is None:
            return problem(416, "Range Not Satisfiable", f"the file has {size} bytes",
                           headers={"Content-Range": f"bytes */{size}"})
        start, stop = byte_range
        status, length = 206, stop - start
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    headers["Content-Length"] = str(length)
    body = store.read(entry["sha256"], start, length) if length else iter(())
    return Response(body, status=status, headers=headers, mimetype="application/octet-stream",
                    direct_passthrough=True)


@blp.route(f"{FILE}/<anypath:path>", methods=["GET"])
@blp.response(200, description="The file's bytes (206 for a Range request).")
def download(model, version, path):
    """Stream the file; `Range` gives 206, `?redirect=true` a presigned URL on S3."""
    entry = artifacts.get_file(model, version, path)
    store = current_app.extensions["modelyard_store"]
    if request.args.get("redirect") == "true":
        ttl = current_app.config["MODELYARD"]["storage"]["presign_ttl_s"]
        url = store.presigned_url(entry["sha256"], dt.timedelta(seconds=ttl))
        if url:
            return redirect(url, 302)
    return _file_response(entry, store)


@blp.route("/models/<string:model>/versions/<int(min=1, max=2147483647):version>/finalize",
           methods=["POST"])
@blp.response(200, VersionSchema)
def finalize(model, version):
    """Make the version `ready`; its files become immutable (later uploads get 409)."""
    return artifacts.finalize_version(model, version, actor=current_actor())
