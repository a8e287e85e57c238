"""The part-level API: one multipart upload session, driven part by part.

The transfer engine (and :func:`~.upload.write_object`) use it alike:

- ``await backend.open_multipart_session(path, size=..., options=...)`` starts an
  upload; with ``upload_id=`` it resumes one, asking the store which parts it
  already holds (ListParts, all pages);
- ``await session.upload_part(number, buffer, progress)`` stores part ``number``
  (1-based) from a bytes-like buffer, without copying it; ``progress(n)`` is
  called with each block's byte count as it is sent;
- ``await session.copy_part(number, source, first, last)`` fills a part from an
  existing object on the same store (UploadPartCopy);
- ``await session.complete()`` assembles the parts in order; ``await
  session.abort()`` discards everything (a session that is neither completed
  nor aborted stays resumable by its ``upload_id``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...errors import AlreadyExists, IntegrityError, NotFound, OrbitError, Unsupported
from .connection import S3Connection
from .keys import S3Location, quote_etag, unquote_etag
from .parts import MAX_PARTS, PartBody, PartPlan, ProgressCallback

__all__ = [
    "MultipartSession",
    "PendingUpload",
    "UploadedPart",
    "list_pending_uploads",
    "multipart_etag",
    "resume_session",
    "start_session",
    "stored_parts",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UploadedPart:
    """A part the store holds: its 1-based number, size and ETag (unquoted)."""

    number: int
    size: int
    etag: str


@dataclass(frozen=True, slots=True)
class PendingUpload:
    """A multipart upload begun and neither completed nor aborted."""

    path: str
    key: str
    upload_id: str
    initiated: float | None = None


class MultipartSession:
    """One multipart upload of ``path``; see the module docstring.

    ``parts`` holds the parts known to be stored (after a resume, those the
    store listed); ``plan`` gives each part's size, so a resumed upload goes on
    with the sizes it began with.
    """

    def __init__(self, conn: S3Connection, location: S3Location, upload_id: str, *,
                 plan: PartPlan, if_none_match: bool = False,
                 parts: Mapping[int, UploadedPart] | None = None) -> None:
        self.conn = conn
        self.location = location
        self.upload_id = upload_id
        self.plan = plan
        self.if_none_match = if_none_match
        """Complete only if nothing exists under the name (overwrite=False)."""
        self.parts: dict[int, UploadedPart] = dict(parts or {})
        self.completed_etag: str | None = None

    @property
    def path(self) -> str:
        return self.location.path

    @property
    def part_size(self) -> int:
        """The size of every part but the last (for a known size)."""
        return self.plan.base

    @property
    def bytes_done(self) -> int:
        return sum(part.size for part in self.parts.values())

    def confirmed(self) -> Mapping[int, UploadedPart]:
        """The parts the store holds, by number."""
        return dict(self.parts)

    def contiguous(self) -> tuple[int, int]:
        """(parts, bytes) of the unbroken run of stored parts from part 1 that have the
        planned size: where a sequential reader resumes."""
        count = offset = 0
        while (part := self.parts.get(count + 1)) is not None \
                and part.size == self.plan.size_of(count + 1):
            count += 1
            offset += part.size
        return count, offset

    def _ids(self) -> dict[str, Any]:
        return {"Bucket": self.location.bucket, "Key": self.location.key,
                "UploadId": self.upload_id}

    async def upload_part(self, number: int, data: bytes | bytearray | memoryview,
                          progress: ProgressCallback | None = None) -> UploadedPart:
        """Store part ``number`` (1..10,000) from ``data``; replaces an earlier copy.

        The buffer is sent as it is (no copy) and must not change until this
        returns. ``progress`` receives byte counts as the part goes out.
        """
        if not 1 <= number <= MAX_PARTS:
            raise ValueError(f"part numbers run from 1 to {MAX_PARTS}, not {number}")
        body = PartBody(data, progress)
        answer = await self.conn.call("upload_part", path=self.path, Body=body,
                                      PartNumber=number, **self._ids())
        part = UploadedPart(number, len(body), unquote_etag(answer.get("ETag")) or "")
        self.parts[number] = part
        self.conn.stats.parts_uploaded += 1
        return part

    async def copy_part(self, number: int, source: S3Location, first: int, last: int, *,
                        if_match: str | None = None) -> UploadedPart:
        """Fill part ``number`` with bytes ``first..last`` (inclusive) of ``source``,
        an object on this store, without the data passing through us."""
        params: dict[str, Any] = {
            "CopySource": {"Bucket": source.bucket, "Key": source.key},
            "CopySourceRange": f"bytes={first}-{last}",
            "PartNumber": number,
        }
        if if_match is not None:
            params["CopySourceIfMatch"] = quote_etag(if_match)
        answer = await self.conn.call("upload_part_copy", path=source.path, **params,
                                      **self._ids())
        etag = unquote_etag((answer.get("CopyPartResult") or {}).get("ETag"))
        if not etag:
            raise Unsupported(f"{self.conn.endpoint} did not copy part {number} of "
                              f"{source.path} (UploadPartCopy is not implemented there)",
                              path=source.path)
        part = UploadedPart(number, last - first + 1, etag)
        self.parts[number] = part
        self.conn.stats.parts_copied += 1
        return part

    async def complete(self, parts: Iterable[UploadedPart] | None = None, *,
                       size: int | None = None) -> str:
        """Assemble the parts in order (``parts``, else every part this session knows);
        returns the object's ETag. With no part at all, one empty part is stored.
        ``size``: what the object must come to (IntegrityError before assembling, else)."""
        chosen = list(self.parts.values()) if parts is None else list(parts)
        if not chosen:
            chosen = [await self.upload_part(1, b"")]
        total = sum(part.size for part in chosen)
        if size is not None and total != size:
            raise IntegrityError(f"{self.path}: the parts add up to {total} bytes where "
                                 f"{size} were sent", path=self.path)
        await self._check_stored(chosen)
        ordered = sorted(chosen, key=lambda p: p.number)
        try:
            etag = await self._assemble(ordered)
        except NotFound:
            # The parts were listed a moment ago, so the upload went during the assembly:
            # botocore sends a request again when its answer is cut off, and if the first
            # one assembled the parts, the second finds the upload gone.
            found = await self._assembled_meanwhile(ordered, total)
            if found is None:
                raise
            log.info("%s: the answer to its assembly was lost; the object is there", self.path)
            etag = found
        self.completed_etag = etag
        return etag

    async def _assemble(self, ordered: list[UploadedPart]) -> str:
        manifest = [{"PartNumber": p.number, "ETag": quote_etag(p.etag)} for p in ordered]
        params: dict[str, Any] = {"MultipartUpload": {"Parts": manifest}, **self._ids()}
        if self.if_none_match and self.conn.if_none_match:
            params["IfNoneMatch"] = "*"
        try:
            answer = await self.conn.call("complete_multipart_upload", path=self.path,
                                          precondition=AlreadyExists, **params)
        except Unsupported:
            if "IfNoneMatch" not in params:
                raise
            self.conn.if_none_match = False  # the server refuses the header: do without
            del params["IfNoneMatch"]
            answer = await self.conn.call("complete_multipart_upload", path=self.path,
                                          precondition=AlreadyExists, **params)
        return unquote_etag(answer.get("ETag")) or ""

    async def _assembled_meanwhile(self, ordered: list[UploadedPart], total: int) -> str | None:
        """The object's ETag if it is these parts assembled, else None: its size must
        be theirs, and a multipart ETag (the MD5 of the parts' MD5s, "-N") must be the
        one they make; a store that gives another kind of ETag is judged by size."""
        try:
            head = await self.conn.call("head_object", path=self.path,
                                        Bucket=self.location.bucket, Key=self.location.key)
        except NotFound:
            return None
        etag = unquote_etag(head.get("ETag")) or ""
        if head.get("ContentLength") != total:
            return None
        if "-" in etag and etag != multipart_etag(ordered):
            return None
        return etag

    async def _check_stored(self, chosen: Iterable[UploadedPart]) -> None:
        """IntegrityError unless the store holds each part as it was sent.

        The object is these parts back to back, so this confirms its size before it
        exists. A HEAD afterwards would too, but some stores (``rclone serve s3``)
        hash the whole new object on its first HEAD: a second of server CPU per
        512 MiB on the upload's clock.
        """
        held = await stored_parts(self.conn, self.location, self.upload_id)
        for part in chosen:
            stored = held.get(part.number)
            if stored is None:
                raise IntegrityError(f"{self.path}: the store lost part {part.number} of the "
                                     "upload before it was assembled", path=self.path)
            if stored.size != part.size or (stored.etag and part.etag
                                            and stored.etag != part.etag):
                raise IntegrityError(
                    f"{self.path}: part {part.number} is stored with {stored.size} bytes "
                    f"(ETag {stored.etag}) where {part.size} (ETag {part.etag}) were sent",
                    path=self.path)

    async def abort(self) -> None:
        """Discard the upload and its parts; an upload already gone is fine."""
        try:
            await self.conn.call("abort_multipart_upload", path=self.path, **self._ids())
        except NotFound:
            pass


def multipart_etag(parts: Iterable[UploadedPart]) -> str | None:
    """The ETag S3 gives the object these parts (in order) make: the MD5 of their
    MD5s and "-" their count; None if a part's ETag is not an MD5."""
    digests = []
    for part in parts:
        try:
            digests.append(bytes.fromhex(part.etag))
        except ValueError:
            return None
    return f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"


async def start_session(conn: S3Connection, location: S3Location, args: Mapping[str, Any], *,
                        plan: PartPlan, if_none_match: bool = False) -> MultipartSession:
    """CreateMultipartUpload with the object's ``args`` (content type, metadata...)."""
    answer = await conn.call("create_multipart_upload", path=location.path,
                             Bucket=location.bucket, Key=location.key, **args)
    conn.stats.multipart_uploads += 1
    return MultipartSession(conn, location, str(answer["UploadId"]), plan=plan,
                            if_none_match=if_none_match)


async def resume_session(conn: S3Connection, location: S3Location, upload_id: str, *,
                         plan: PartPlan, if_none_match: bool = False) -> MultipartSession:
    """Reopen an upload by its id; the parts come from ListParts (every page).

    The plan's base part size is taken from part 1 when the store holds it, so
    the parts still to send match the ones already sent.
    """
    parts = await stored_parts(conn, location, upload_id)
    first = parts.get(1)
    if first is not None and len(parts) > 1 and first.size != plan.base:
        plan = PartPlan(first.size, plan.size_known)
    return MultipartSession(conn, location, upload_id, plan=plan, if_none_match=if_none_match,
                            parts=parts)


async def stored_parts(conn: S3Connection, location: S3Location,
                       upload_id: str) -> dict[int, UploadedPart]:
    """The parts the store holds for an upload, by number (ListParts, every page)."""
    parts: dict[int, UploadedPart] = {}
    params: dict[str, Any] = {"Bucket": location.bucket, "Key": location.key,
                              "UploadId": upload_id}
    while True:
        page = await conn.call("list_parts", path=location.path, **params)
        for item in page.get("Parts", []):
            number = int(item["PartNumber"])
            parts[number] = UploadedPart(number, int(item.get("Size", 0)),
                                         unquote_etag(item.get("ETag")) or "")
        marker = page.get("NextPartNumberMarker")
        if not page.get("IsTruncated") or not marker:
            return parts
        params["PartNumberMarker"] = marker


async def list_pending_uploads(conn: S3Connection, bucket: str,
                               prefix: str = "") -> list[PendingUpload]:
    """Multipart uploads in progress under ``prefix`` of ``bucket`` (every page)."""
    found: list[PendingUpload] = []
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        try:
            page = await conn.call("list_multipart_uploads", path=f"/{bucket}", **params)
        except NotFound:
            # rclone serve s3 answers NoSuchUpload for a bucket that never had one.
            await conn.call("head_bucket", path=f"/{bucket}", Bucket=bucket)
            return found
        for item in page.get("Uploads", []):
            initiated = item.get("Initiated")
            found.append(PendingUpload(
                path=f"/{bucket}/{item['Key']}", key=str(item["Key"]),
                upload_id=str(item["UploadId"]),
                initiated=initiated.timestamp() if isinstance(initiated, datetime) else None))
        if not page.get("IsTruncated"):
            return found
        key_marker, id_marker = page.get("NextKeyMarker"), page.get("NextUploadIdMarker")
        if not key_marker and not id_marker:
            return found
        params["KeyMarker"] = key_marker or ""
        params["UploadIdMarker"] = id_marker or ""


def check_part_count(number: int, path: str) -> None:
    if number > MAX_PARTS:
        raise OrbitError(f"{path}: the source is larger than announced and would need more "
                         f"than {MAX_PARTS} parts; upload it again with its real size",
                         path=path)
