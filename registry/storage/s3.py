"""Artifacts in S3/MinIO through the `minio` client.

The sha256 is known only after the last byte, so an upload streams (multipart) to a unique
`incoming/` key, and is then copied server-side to its content address; the incoming object is
removed whatever happens.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import BinaryIO, Iterator

from minio import Minio
from minio.commonconfig import CopySource
from minio.error import S3Error

from registry.storage import CHUNK, Blob, HashingReader, blob_key

PART_SIZE = 16 << 20
MISSING = ("NoSuchKey", "NoSuchObject", "ResourceNotFound")


class S3Store:
    def __init__(self, client: Minio, bucket: str) -> None:
        self.client, self.bucket = client, bucket

    def ensure_bucket(self) -> None:
        """Create the bucket unless it exists; replicas starting together may race to."""
        if self.client.bucket_exists(bucket_name=self.bucket):
            return
        try:
            self.client.make_bucket(bucket_name=self.bucket)
        except S3Error as exc:
            if exc.code != "BucketAlreadyOwnedByYou":
                raise

    def put(self, source: BinaryIO, *, max_bytes: int, expected_sha256: str | None = None,
            expected_size: int | None = None) -> Blob:
        reader = HashingReader(source, max_bytes)
        incoming = f"incoming/{uuid.uuid4()}"
        try:
            self.client.put_object(bucket_name=self.bucket, object_name=incoming, data=reader,
                                   length=-1, part_size=PART_SIZE)
            blob = reader.finish(expected_sha256, expected_size)
            # Copied even when the blob exists: the fresh Last-Modified is what keeps garbage
            # collection's grace period from removing it before this upload's row commits.
            self.client.copy_object(bucket_name=self.bucket, object_name=blob_key(blob.sha256),
                                    source=CopySource(self.bucket, incoming))
            return blob
        finally:
            self.client.remove_object(bucket_name=self.bucket, object_name=incoming)

    def size(self, sha256: str) -> int | None:
        try:
            return self.client.stat_object(bucket_name=self.bucket,
                                           object_name=blob_key(sha256)).size
        except S3Error as exc:
            if exc.code in MISSING:
                return None
            raise

    def read(self, sha256: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        response = self.client.get_object(bucket_name=self.bucket, object_name=blob_key(sha256),
                                          offset=start, length=length or 0)
        try:
            yield from response.stream(CHUNK)
        finally:
            response.close()
            response.release_conn()

    def delete(self, sha256: str) -> None:
        self.client.remove_object(bucket_name=self.bucket, object_name=blob_key(sha256))

    def blobs(self) -> Iterator[tuple[str, int, dt.datetime]]:
        for item in self.client.list_objects(bucket_name=self.bucket, prefix="sha256/",
                                             recursive=True):
            _, fan, rest = item.object_name.split("/", 2)
            yield fan + rest, item.size, item.last_modified

    def presigned_url(self, sha256: str, expires: dt.timedelta) -> str | None:
        return self.client.presigned_get_object(bucket_name=self.bucket,
                                                object_name=blob_key(sha256), expires=expires)

    def check(self) -> None:
        if not self.client.bucket_exists(bucket_name=self.bucket):
            raise OSError(f"bucket {self.bucket} does not exist")
