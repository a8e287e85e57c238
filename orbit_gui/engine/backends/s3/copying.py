"""Server-side copies within one endpoint: CopyObject up to 5 GiB, UploadPartCopy
beyond (parts copied ``parallel`` at a time), object settings carried over."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from .connection import S3Connection
from .keys import S3Location, quote_etag, unquote_etag
from .multipart import start_session
from .parts import PartPlan, plan_part_size
from .settings import S3Settings

__all__ = ["copy_object", "run_bounded"]

log = logging.getLogger(__name__)

_CARRIED = ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding",
            "ContentLanguage", "Metadata", "StorageClass", "ServerSideEncryption",
            "SSEKMSKeyId", "WebsiteRedirectLocation")


async def run_bounded(jobs: Any, limit: int,
                      run: Callable[[Any], Coroutine[Any, Any, None]]) -> None:
    """Run ``run(job)`` for each job of an (async) iterable, ``limit`` at a time; the
    first failure cancels the rest and is raised."""
    inflight: set[asyncio.Task[None]] = set()

    async def reap(block_until: int) -> None:
        while len(inflight) > block_until:
            done, _ = await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                inflight.discard(task)
                task.result()

    try:
        if hasattr(jobs, "__aiter__"):
            async for job in jobs:
                inflight.add(asyncio.create_task(run(job)))
                await reap(limit - 1)
        else:
            for job in jobs:
                inflight.add(asyncio.create_task(run(job)))
                await reap(limit - 1)
        await reap(0)
    finally:
        for task in inflight:
            task.cancel()
        if inflight:
            await asyncio.gather(*inflight, return_exceptions=True)


async def copy_object(conn: S3Connection, settings: S3Settings, source: S3Location,
                      target: S3Location, *, size: int, storage_class: str | None = None,
                      head: Mapping[str, Any] | None = None) -> None:
    """Copy the object ``source`` to ``target`` on the server, keeping its content
    type, metadata, storage class and encryption."""
    if size <= settings.copy_threshold:
        params: dict[str, Any] = {
            "Bucket": target.bucket, "Key": target.key,
            "CopySource": {"Bucket": source.bucket, "Key": source.key},
            "MetadataDirective": "COPY",
        }
        storage = (head or {}).get("StorageClass") or storage_class
        if storage and storage != "STANDARD":
            params["StorageClass"] = storage
        for field in ("ServerSideEncryption", "SSEKMSKeyId"):
            if head and head.get(field):
                params[field] = head[field]
        await conn.call("copy_object", path=source.path, **params)
        conn.stats.objects_copied += 1
        return
    if head is None:
        head = await conn.call("head_object", path=source.path, Bucket=source.bucket,
                               Key=source.key)
    await _copy_in_parts(conn, settings, source, target, head)


async def _copy_in_parts(conn: S3Connection, settings: S3Settings, source: S3Location,
                         target: S3Location, head: Mapping[str, Any]) -> None:
    size = int(head.get("ContentLength", 0))
    etag = unquote_etag(head.get("ETag"))
    args = {field: head[field] for field in _CARRIED if head.get(field)}
    part_size = plan_part_size(size, settings.copy_part_size)
    session = await start_session(conn, target, args, plan=PartPlan(part_size, True))
    ranges = [(n + 1, offset, min(size, offset + part_size) - 1)
              for n, offset in enumerate(range(0, size, part_size))]

    async def copy(job: tuple[int, int, int]) -> None:
        number, first, last = job
        await session.copy_part(number, source, first, last, if_match=etag)

    try:
        await run_bounded(ranges, settings.parallel_operations, copy)
        await session.complete()
    except BaseException:
        try:
            await asyncio.shield(session.abort())
        except Exception as exc:  # the original failure matters more
            log.warning("%s: could not abort the copy's multipart upload %s (%s)",
                        target.path, session.upload_id, exc)
        raise
    conn.stats.objects_copied += 1
    log.debug("copied %s to %s in %d parts (source ETag %s)", source.path, target.path,
              len(ranges), quote_etag(etag or ""))
