"""Paths to buckets and keys, and S3 answers to Entries.

``/`` is the store, ``/bucket`` a bucket, ``/bucket/a/b`` the key ``a/b``. A
folder ``/bucket/a`` is the key prefix ``a/`` (and its marker object, if any,
is the zero-byte key ``a/``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...errors import InvalidPath
from ...paths import normalize
from ...types import Entry

__all__ = [
    "MAX_KEY_BYTES",
    "S3Location",
    "bucket_entry",
    "folder_entry",
    "head_entry",
    "is_canonical_key",
    "object_entry",
    "quote_etag",
    "split",
    "unquote_etag",
]

MAX_KEY_BYTES = 1024


@dataclass(frozen=True, slots=True)
class S3Location:
    """A place on the store: ``bucket`` is "" at the root, ``key`` "" for a bucket."""

    bucket: str
    key: str

    @property
    def path(self) -> str:
        if not self.bucket:
            return "/"
        return f"/{self.bucket}/{self.key}" if self.key else f"/{self.bucket}"

    @property
    def prefix(self) -> str:
        """The key prefix of this place taken as a folder ("" for a bucket)."""
        return f"{self.key}/" if self.key else ""

    @property
    def name(self) -> str:
        return posixpath.basename(self.key) if self.key else (self.bucket or "/")

    @property
    def parent(self) -> S3Location:
        if self.key:
            return S3Location(self.bucket, posixpath.dirname(self.key))
        return S3Location("", "")

    def child_key(self, relative: str) -> S3Location:
        return S3Location(self.bucket, f"{self.prefix}{relative}")


def split(path: str) -> S3Location:
    """Parse ``/bucket/key``; refuse NUL bytes, '..' and keys S3 cannot hold."""
    clean = normalize(path)
    bucket, _, key = clean[1:].partition("/")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidPath(f"{path[:60]!r}... is longer than S3's {MAX_KEY_BYTES}-byte key limit",
                          path=path)
    return S3Location(bucket, key)


def is_canonical_key(key: str) -> bool:
    """Whether a key the server listed maps to a path and back unchanged
    (no empty, '.' or '..' segment, which normalize() would fold away)."""
    body = key[:-1] if key.endswith("/") else key
    return bool(body) and all(part not in ("", ".", "..") for part in body.split("/")) \
        and "\x00" not in body


def unquote_etag(etag: str | None) -> str | None:
    if etag is None:
        return None
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    return etag.strip('"') or None


def quote_etag(etag: str) -> str:
    return etag if etag.startswith('"') else f'"{etag}"'


def _epoch(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def bucket_entry(bucket: Mapping[str, Any]) -> Entry:
    name = str(bucket["Name"])
    extra = {"kind": "bucket"}
    if bucket.get("BucketRegion"):
        extra["region"] = str(bucket["BucketRegion"])
    return Entry(name=name, path=f"/{name}", is_dir=True, mtime=_epoch(bucket.get("CreationDate")),
                 extra=extra)


def folder_entry(bucket: str, prefix: str) -> Entry:
    """A CommonPrefix ("a/b/") as a folder entry."""
    key = prefix[:-1] if prefix.endswith("/") else prefix
    return Entry(name=posixpath.basename(key), path=f"/{bucket}/{key}", is_dir=True)


def object_entry(bucket: str, obj: Mapping[str, Any]) -> Entry:
    """One ListObjectsV2 ``Contents`` item as a file entry."""
    key = str(obj["Key"])
    extra: dict[str, str] = {}
    if obj.get("StorageClass"):
        extra["storage_class"] = str(obj["StorageClass"])
    return Entry(
        name=posixpath.basename(key),
        path=f"/{bucket}/{key}",
        is_dir=False,
        size=int(obj.get("Size", 0)),
        mtime=_epoch(obj.get("LastModified")),
        etag=unquote_etag(obj.get("ETag")),
        extra=extra,
    )


_HEAD_EXTRA = {
    "StorageClass": "storage_class",
    "ServerSideEncryption": "server_side_encryption",
    "SSEKMSKeyId": "sse_kms_key_id",
    "VersionId": "version_id",
    "CacheControl": "cache_control",
    "ContentEncoding": "content_encoding",
    "ContentDisposition": "content_disposition",
}


def head_entry(location: S3Location, head: Mapping[str, Any]) -> Entry:
    """A HeadObject answer as a file entry; user metadata as ``x-amz-meta-NAME`` extras."""
    extra: dict[str, str] = {"storage_class": "STANDARD"}
    for field, name in _HEAD_EXTRA.items():
        if head.get(field):
            extra[name] = str(head[field])
    for meta_key, value in (head.get("Metadata") or {}).items():
        extra[f"x-amz-meta-{meta_key}"] = str(value)
    return Entry(
        name=location.name,
        path=location.path,
        is_dir=False,
        size=int(head.get("ContentLength", 0)),
        mtime=_epoch(head.get("LastModified")),
        etag=unquote_etag(head.get("ETag")),
        content_type=head.get("ContentType"),
        extra=extra,
    )
