"""Lazy listings: one ListObjectsV2 page is requested only when the consumer
needs its first entry, and closing the iterator early requests nothing more."""

from __future__ import annotations

import heapq
import logging
from collections.abc import AsyncIterator
from typing import Any

from ...errors import NotADirectory, NotFound
from ...types import Entry, ListOptions
from .connection import S3Connection
from .keys import (
    S3Location,
    bucket_entry,
    folder_entry,
    is_canonical_key,
    object_entry,
)

__all__ = ["iter_buckets", "iter_objects", "list_entries", "prefix_exists"]

log = logging.getLogger(__name__)

MAX_PAGE = 1000


async def iter_buckets(conn: S3Connection) -> AsyncIterator[dict[str, Any]]:
    """Every bucket (ListBuckets, following continuation tokens where given)."""
    token: str | None = None
    while True:
        params: dict[str, Any] = {"ContinuationToken": token} if token else {}
        conn.stats.list_pages += 1
        page = await conn.call("list_buckets", path="/", **params)
        for bucket in page.get("Buckets", []):
            yield bucket
        token = page.get("ContinuationToken")
        if not token:
            return


async def iter_pages(conn: S3Connection, location: S3Location, *, prefix: str,
                     delimiter: bool, page_size: int) -> AsyncIterator[dict[str, Any]]:
    """ListObjectsV2 pages, each requested when the previous one is used up."""
    params: dict[str, Any] = {
        "Bucket": location.bucket,
        "Prefix": prefix,
        "MaxKeys": max(1, min(page_size, MAX_PAGE)),
    }
    if delimiter:
        params["Delimiter"] = "/"
    while True:
        conn.stats.list_pages += 1
        page: dict[str, Any] = await conn.call("list_objects_v2", path=location.path, **params)
        yield page
        if not page.get("IsTruncated"):
            return
        token = page.get("NextContinuationToken")
        if token:
            params["ContinuationToken"] = token
            continue
        # A server that pages without tokens: go on after the last name seen.
        last = max([o["Key"] for o in page.get("Contents", [])]
                   + [p["Prefix"] for p in page.get("CommonPrefixes", [])], default=None)
        if last is None:
            return
        params["StartAfter"] = last


async def iter_objects(conn: S3Connection, location: S3Location, prefix: str,
                       page_size: int = MAX_PAGE) -> AsyncIterator[dict[str, Any]]:
    """Every object (markers included) whose key starts with ``prefix``, lazily."""
    async for page in iter_pages(conn, location, prefix=prefix, delimiter=False,
                                 page_size=page_size):
        for obj in page.get("Contents", []):
            yield obj


async def prefix_exists(conn: S3Connection, location: S3Location) -> bool:
    """Whether the folder ``location`` exists: some key (or its marker) under it."""
    conn.stats.list_pages += 1
    page = await conn.call("list_objects_v2", path=location.path, Bucket=location.bucket,
                           Prefix=location.prefix, MaxKeys=1)
    return bool(page.get("Contents") or page.get("CommonPrefixes"))


def _page_entries(bucket: str, prefix: str, page: dict[str, Any],
                  recursive: bool) -> list[tuple[str, Entry]]:
    """One page as (sort key, entry): objects and CommonPrefixes merged in key order,
    the folder's own marker and any other ``dir/`` markers left out."""
    files: list[tuple[str, Entry]] = []
    for obj in page.get("Contents", []):
        key = str(obj["Key"])
        if key == prefix or key.endswith("/"):
            continue  # a folder marker: the folder itself, or one shown as a prefix
        if not is_canonical_key(key) or (not recursive and "/" in key[len(prefix):]):
            log.debug("s3 listing: skipping key %r that has no path form", key)
            continue
        files.append((key, object_entry(bucket, obj)))
    folders: list[tuple[str, Entry]] = []
    for common in page.get("CommonPrefixes", []):
        name = str(common["Prefix"])
        rest = name[len(prefix):]
        rest = rest[:-1] if rest.endswith("/") else rest
        if not rest or "/" in rest or rest in (".", ".."):
            log.debug("s3 listing: skipping prefix %r that has no path form", name)
            continue
        folders.append((name, folder_entry(bucket, name)))
    return list(heapq.merge(files, folders, key=lambda item: item[0]))


async def list_entries(conn: S3Connection, location: S3Location,
                       options: ListOptions) -> AsyncIterator[Entry]:
    """The entries of ``location`` (see ``S3Backend.list``)."""
    if not location.bucket:
        async for bucket in iter_buckets(conn):
            if not options.recursive:
                yield bucket_entry(bucket)
                continue
            async for entry in list_entries(conn, S3Location(str(bucket["Name"]), ""), options):
                yield entry
        return
    prefix = location.prefix
    first = True
    async for page in iter_pages(conn, location, prefix=prefix, delimiter=not options.recursive,
                                 page_size=options.page_size):
        if first and prefix and not page.get("Contents") and not page.get("CommonPrefixes"):
            await _raise_missing(conn, location)
        first = False
        for _, entry in _page_entries(location.bucket, prefix, page, options.recursive):
            yield entry


async def _raise_missing(conn: S3Connection, location: S3Location) -> None:
    try:
        await conn.call("head_object", path=location.path, Bucket=location.bucket,
                        Key=location.key)
    except NotFound:
        raise NotFound(f"the folder {location.path} does not exist", path=location.path,
                       host=conn.endpoint) from None
    raise NotADirectory(f"{location.path} is a file, not a folder", path=location.path)
