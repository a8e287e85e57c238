"""Ranged GETs streamed in large chunks, checked against what the server says it sent.

The body is taken straight from aiohttp's buffer, one received piece at a
time (``StreamReader.readchunk``): no copy joins pieces into larger ones and
nothing is re-sliced, so a consumer that writes what it gets (the sliding-window
downloader gathers the pieces and writes them with one ``pwritev``) touches each
byte once. Bodies aiobotocore wraps for checksum validation go through its
``read`` instead, so that validation still happens.

Some servers answer a range request with 200: either the whole object (then
we skip to the offset and stop after the length) or just the range with a
Content-Range header (``rclone serve s3``); both come out right. The object's
ETag is compared with ``if_match`` here too, since not every server honours
If-Match.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from aiobotocore.response import StreamingBody

from ...errors import IntegrityError, IsADirectory, SourceChanged
from .connection import S3Connection
from .errors import RangeNotSatisfiable
from .keys import S3Location, quote_etag, unquote_etag

__all__ = ["READ_CHUNK", "parse_content_range", "read_object"]

READ_CHUNK = 1024 * 1024
"""Most bytes asked of the response per chunk (aiobotocore's default is 1 KiB), and
how much aiohttp may buffer per response before it stops reading the socket
(twice this: its high-water mark)."""

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


def parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """``"bytes 10-19/100"`` -> (10, 19, 100); None when absent or unreadable."""
    if not value:
        return None
    match = _CONTENT_RANGE.match(value)
    if match is None:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), int(match.group(2)), total


def _check_version(location: S3Location, answer: dict[str, Any], if_match: str | None) -> None:
    if if_match is None:
        return
    etag = unquote_etag(answer.get("ETag"))
    if etag is not None and etag != unquote_etag(if_match):
        raise SourceChanged(f"{location.path} changed since the transfer began; it must "
                            "start over", path=location.path)


async def read_object(conn: S3Connection, location: S3Location, offset: int,
                      length: int | None, if_match: str | None) -> AsyncIterator[bytes]:
    """Stream ``length`` bytes (None: to the end) of an object from ``offset``."""
    if offset < 0 or (length is not None and length < 0):
        raise ValueError("offset and length must not be negative")
    path = location.path
    if not location.key:
        raise IsADirectory(f"{path} is a bucket, not a file", path=path)
    base: dict[str, Any] = {"Bucket": location.bucket, "Key": location.key}
    if if_match is not None:
        base["IfMatch"] = quote_etag(if_match)
    if length == 0:
        head = await conn.call("head_object", path=path, precondition=SourceChanged, **base)
        _check_version(location, head, if_match)
        return
    params = dict(base)
    ranged = offset > 0 or length is not None
    if ranged:
        end = "" if length is None else str(offset + length - 1)
        params["Range"] = f"bytes={offset}-{end}"
    try:
        answer = await conn.call("get_object", path=path, precondition=SourceChanged, **params)
    except RangeNotSatisfiable:
        if if_match is not None:  # still tell a changed object from a short one
            head = await conn.call("head_object", path=path, precondition=SourceChanged, **base)
            _check_version(location, head, if_match)
        return
    body = answer["Body"]
    try:
        _check_version(location, answer, if_match)
        skip, want = _plan(location, answer, offset, length, ranged)
        async for chunk in _chunks(conn, location, body, skip, want):
            yield chunk
    finally:
        body.close()


def _plan(location: S3Location, answer: dict[str, Any], offset: int, length: int | None,
          ranged: bool) -> tuple[int, int | None]:
    """How many leading bytes of the body to drop, and how many to keep (None: all)."""
    if not ranged:
        return 0, None
    status = int(answer.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    parsed = parse_content_range(answer.get("ContentRange"))
    if parsed is None:
        if status == 206:
            return 0, length  # a partial answer without its range: trust it, bounded
        return offset, length  # the whole object: skip to the offset
    start, last, _total = parsed
    if start > offset:
        raise IntegrityError(f"{location.path}: asked for bytes from {offset}, the server "
                             f"sent them from {start}", path=location.path)
    if length is not None and last < offset + length - 1 and _total is not None \
            and last < _total - 1:
        raise IntegrityError(f"{location.path}: asked for bytes up to {offset + length - 1}, "
                             f"the server sent up to {last}", path=location.path)
    return offset - start, length


def _raw_content(body: Any) -> Any | None:
    """aiohttp's StreamReader under a plain aiobotocore StreamingBody, else None
    (a checksum-validating body, or anything else, is read through its ``read``)."""
    if type(body) is not StreamingBody:
        return None
    content = getattr(body.__wrapped__, "content", None)
    if content is None or not hasattr(content, "readchunk"):
        return None
    resize = getattr(content, "set_read_chunk_size", None)  # aiohttp >= 3.12
    if resize is not None:
        resize(READ_CHUNK)
    return content


async def _pieces(content: Any) -> AsyncGenerator[bytes, None]:
    """The body as aiohttp received it: one ``bytes`` per piece, never re-joined.

    A body cut short raises (aiohttp checks Content-Length); so does a timeout.
    """
    while True:
        data, end_of_http_chunk = await content.readchunk()
        if data:
            yield data
        elif not end_of_http_chunk:
            return  # (b"", False) is the end; (b"", True) only an empty HTTP chunk


async def _chunks(conn: S3Connection, location: S3Location, body: Any, skip: int,
                  want: int | None) -> AsyncIterator[bytes]:
    path = location.path
    content = _raw_content(body)
    stream: AsyncGenerator[bytes, None] = (
        _pieces(content) if content is not None else body.iter_chunks(READ_CHUNK))
    try:
        while want is None or want > 0:
            try:
                chunk: bytes = await anext(stream)
            except StopAsyncIteration:
                return
            except Exception as exc:
                mapped = conn.translate(exc, path=path, bucket=location.bucket)
                if mapped is None:
                    raise
                raise mapped from exc
            if skip:
                if len(chunk) <= skip:
                    skip -= len(chunk)
                    continue
                chunk = chunk[skip:]
                skip = 0
            if want is not None:
                if len(chunk) > want:
                    chunk = chunk[:want]
                want -= len(chunk)
            yield chunk
    finally:
        await stream.aclose()
