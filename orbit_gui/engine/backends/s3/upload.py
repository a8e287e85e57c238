"""``write()``: one PutObject for small objects, a streaming multipart upload otherwise.

The first buffer read decides: if the reader ends before the multipart
threshold, the object goes up in one PutObject from that buffer. Otherwise a
multipart upload starts and parts are read into a few reused buffers,
``parallel`` of them in flight while the next one fills, so memory stays at
about ``part_size x (parallel + 1)`` whatever the object's size. Parts go
through :class:`~.multipart.MultipartSession`, the same API the transfer
engine drives. Any failure or cancellation aborts the upload unless the caller
keeps it for a resume.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import mimetypes
from collections.abc import Callable, Mapping
from typing import Any

from ...backend import AsyncReader
from ...errors import AlreadyExists, InvalidPath, NotFound, Unsupported
from ...types import WriteOptions
from .connection import S3Connection
from .keys import S3Location
from .multipart import MultipartSession, check_part_count, start_session
from .parts import MAX_PARTS, BufferPool, PartBody, PartPlan, fill
from .settings import S3Settings

__all__ = ["object_args", "put_object", "stream_parts", "write_object"]

log = logging.getLogger(__name__)


def object_args(key: str, options: WriteOptions) -> dict[str, Any]:
    """PutObject / CreateMultipartUpload parameters for ``options``.

    The content type is guessed from the name when not given; ``mtime`` is kept
    as the ``mtime`` metadata rclone and others read.
    """
    args: dict[str, Any] = {}
    content_type = options.content_type or mimetypes.guess_type(key.rsplit("/", 1)[-1])[0]
    if content_type:
        args["ContentType"] = content_type
    metadata = {str(k): str(v) for k, v in options.metadata.items()}
    if options.mtime is not None and "mtime" not in metadata:
        metadata["mtime"] = f"{options.mtime:.9f}"
    if metadata:
        args["Metadata"] = metadata
    if options.storage_class:
        args["StorageClass"] = options.storage_class
    if options.sse_kms_key_id:
        args["ServerSideEncryption"] = options.sse or "aws:kms"
        args["SSEKMSKeyId"] = options.sse_kms_key_id
    elif options.sse:
        args["ServerSideEncryption"] = options.sse
    return args


async def ensure_absent(conn: S3Connection, location: S3Location) -> None:
    """AlreadyExists if an object is stored under ``location`` (overwrite=False)."""
    try:
        await conn.call("head_object", path=location.path, Bucket=location.bucket,
                        Key=location.key)
    except NotFound:
        return
    raise AlreadyExists(f"{location.path} already exists", path=location.path)


async def put_object(conn: S3Connection, location: S3Location, data: memoryview,
                     args: Mapping[str, Any], *, if_none_match: bool) -> None:
    """One PutObject from ``data`` (sent without a copy), with its Content-MD5 so the
    store refuses a body that arrives damaged."""
    digest = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
    params: dict[str, Any] = {"Bucket": location.bucket, "Key": location.key,
                              "Body": PartBody(data) if len(data) else b"",
                              "ContentMD5": digest, **args}
    if if_none_match and conn.if_none_match:
        params["IfNoneMatch"] = "*"
    try:
        await conn.call("put_object", path=location.path, precondition=AlreadyExists, **params)
    except Unsupported:
        if "IfNoneMatch" not in params:
            raise
        conn.if_none_match = False
        del params["IfNoneMatch"]
        if isinstance(params["Body"], PartBody):
            params["Body"].seek(0)
        await conn.call("put_object", path=location.path, precondition=AlreadyExists, **params)
    conn.stats.single_puts += 1


async def write_object(conn: S3Connection, settings: S3Settings, location: S3Location,
                       reader: AsyncReader, size_hint: int | None, options: WriteOptions, *,
                       session: MultipartSession | None = None, keep_on_failure: bool = False,
                       on_session: Callable[[MultipartSession], None] | None = None) -> int:
    """Store everything ``reader`` gives at ``location``; returns the object's size.

    With ``session`` (a resumed :class:`MultipartSession`) the reader must start
    at ``session.contiguous()[1]``: the parts before it are not sent again.
    ``on_session`` is told of a multipart session as soon as it starts (to journal
    its upload id); ``keep_on_failure`` leaves it resumable instead of aborting it.
    """
    if not location.key:
        raise InvalidPath(f"{location.path} is a bucket; a file needs a name below it",
                          path=location.path)
    args = object_args(location.key, options)
    if not options.overwrite:
        await ensure_absent(conn, location)
    pool = BufferPool()
    parallel = settings.parallel_operations
    if session is not None:
        start, offset = session.contiguous()
        return await _finish(session, reader, pool, parallel, start + 1, None,
                             keep_on_failure, offset=offset)
    plan = PartPlan.for_size(size_hint, settings.part_size)
    threshold = settings.multipart_threshold
    part_one = plan.size_of(1)
    small = size_hint is not None and size_hint < threshold
    # One byte more than announced tells a reader that runs long from one that ends.
    capacity = min(size_hint + 1, threshold) if small and size_hint is not None else part_one
    first = bytearray(capacity) if small else pool.take(capacity)
    got = await fill(reader, memoryview(first)[:capacity])
    if small and got == capacity:  # the reader runs past its size hint: go on to a full part
        grown = pool.take(part_one)
        grown[:got] = first[:got]
        first, capacity = grown, part_one
        got += await fill(reader, memoryview(first)[got:capacity])
    if got < capacity and got < threshold:
        await put_object(conn, location, memoryview(first)[:got], args,
                         if_none_match=not options.overwrite)
        return got
    session = await start_session(conn, location, args, plan=plan,
                                  if_none_match=not options.overwrite)
    if on_session is not None:
        on_session(session)
    return await _finish(session, reader, pool, parallel, 1, (first, got), keep_on_failure)


async def _finish(session: MultipartSession, reader: AsyncReader, pool: BufferPool,
                  parallel: int, number: int, first: tuple[bytearray, int] | None,
                  keep_on_failure: bool, *, offset: int = 0) -> int:
    """Send the parts from ``number`` on and assemble the object; returns its size
    (``offset``: the bytes of the parts before ``number``, already stored)."""
    try:
        sent, last = await stream_parts(session, reader, pool, parallel, number, first,
                                        finish_sent=keep_on_failure)
        # Parts past the end (left by an earlier, longer attempt) are not part of it.
        await session.complete([p for p in session.parts.values() if p.number <= last],
                               size=offset + sent)
    except BaseException:
        if not keep_on_failure:
            await _abort_quietly(session)
        raise
    finally:
        pool.clear()
    return offset + sent


async def _abort_quietly(session: MultipartSession) -> None:
    try:
        await asyncio.shield(session.abort())
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.warning("%s: could not abort multipart upload %s (%s); it stays on the server "
                    "until aborted or expired", session.path, session.upload_id, exc)


async def stream_parts(session: MultipartSession, reader: AsyncReader, pool: BufferPool,
                       parallel: int, number: int = 1,
                       first: tuple[bytearray, int] | None = None, *,
                       finish_sent: bool = False) -> tuple[int, int]:
    """Upload parts ``number``, ``number + 1``... read in order from ``reader`` until it
    ends, ``parallel`` at a time; ``first`` is part ``number`` already read. Returns
    the bytes sent and the number of the last part. A failure cancels the other
    parts in flight (with ``finish_sent`` a failure of the reader lets them
    complete first, so a resume has them) and is raised."""
    inflight: set[asyncio.Task[None]] = set()
    sent = 0
    pending = first

    async def send(part_number: int, buffer: bytearray, size: int) -> None:
        try:
            await session.upload_part(part_number, memoryview(buffer)[:size])
        finally:
            pool.give(buffer)

    try:
        while True:
            if number > MAX_PARTS:
                if await reader.read(1):
                    check_part_count(number, session.path)
                break
            capacity = session.plan.size_of(number)
            if pending is None:
                buffer = pool.take(capacity)
                got = await fill(reader, memoryview(buffer)[:capacity])
                if got == 0 and (number > 1 or session.parts):
                    pool.give(buffer)
                    break
            else:
                buffer, got = pending
                pending = None
            inflight.add(asyncio.create_task(send(number, buffer, got)))
            sent += got
            number += 1
            if got < capacity:
                break  # a short part is the last
            while len(inflight) >= parallel:
                done, _ = await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    inflight.discard(task)
                    task.result()
        while inflight:
            done, _ = await asyncio.wait(inflight, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                inflight.discard(task)
                task.result()
    except Exception:
        if finish_sent:  # parts already read are good: let them land for a resume
            await asyncio.gather(*inflight, return_exceptions=True)
        raise
    finally:
        for task in inflight:
            task.cancel()
        if inflight:
            await asyncio.gather(*inflight, return_exceptions=True)
    return sent, number - 1

