"""Amazon S3 and S3-compatible stores as a Backend.

Paths: ``/`` lists the buckets, ``/bucket`` is a bucket, ``/bucket/a/b`` the
object ``a/b`` or the folder (key prefix) ``a/b/``. Folders exist while keys
below them do, or while their zero-byte ``a/b/`` marker does (mkdir makes one
where the store can hold it: option ``directory_markers``).
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ...backend import AsyncReader, Backend
from ...errors import (
    AlreadyExists,
    DirectoryNotEmpty,
    InvalidPath,
    IsADirectory,
    NotFound,
    OrbitError,
    PermissionDenied,
    Unsupported,
)
from ...types import Entry, Features, ListOptions, WriteOptions
from .connection import S3Connection, S3Stats
from .copying import copy_object, run_bounded
from .keys import S3Location, head_entry, split
from .listing import iter_objects, list_entries, prefix_exists
from .multipart import (
    MultipartSession,
    PendingUpload,
    list_pending_uploads,
    resume_session,
    start_session,
)
from .parts import PartPlan
from .reading import read_object
from .settings import S3Settings
from .upload import ensure_absent, object_args, write_object

if TYPE_CHECKING:
    from typing import Self

    from ...profiles import Profile

__all__ = ["DELETE_BATCH", "S3Backend"]

log = logging.getLogger(__name__)

DELETE_BATCH = 1000
"""Keys per DeleteObjects request (S3's maximum)."""
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


class S3Backend(Backend):
    """Buckets and objects on one S3 endpoint; see the module docstring.

    Beyond the Backend interface: :meth:`copy` and :meth:`presign`, and the
    part-level API: :meth:`open_multipart_session` (start or resume),
    :meth:`abort_multipart_upload`, :meth:`list_multipart_uploads`, and
    :meth:`upload` (a write that can resume a session or keep it on failure).
    """

    scheme = "s3"
    features = Features(
        ranged_read=True,
        part_write=True,
        server_copy=True,
        real_directories=False,
        empty_directories=True,
        set_mtime=False,
        metadata=True,
        presign=True,
        confirms_writes=True,
        case_sensitive=True,
        unicode_normalizing=False,
    )

    def __init__(self, connection: S3Connection, *, name: str = "") -> None:
        super().__init__()
        self.connection = connection
        self.settings: S3Settings = connection.settings
        self.stats: S3Stats = connection.stats
        self._name = name
        self.features = replace(type(self).features,
                                empty_directories=self.settings.directory_markers)

    @classmethod
    async def from_profile(cls, profile: Profile, secret: str | None = None) -> Self:
        """Open a client for ``profile`` (see ``settings`` for its options); ``secret``
        is the secret access key. No request is made until the first operation."""
        settings = S3Settings.from_options(profile.options, secret, host=profile.host,
                                           port=profile.port, user=profile.user)
        return cls(await S3Connection.open(settings, S3Stats()), name=profile.name)

    @classmethod
    def uses_secret(cls, profile: Profile) -> bool:
        """Only an access key of the profile's own takes its secret: anonymous requests
        and the AWS credential chain need none."""
        try:
            settings = S3Settings.from_options(profile.options, host=profile.host,
                                               port=profile.port, user=profile.user)
        except OrbitError:
            return True  # connecting reports what is wrong
        return not settings.anonymous and settings.access_key is not None

    @property
    def display_name(self) -> str:
        return self._name or f"S3 {self.connection.endpoint}"

    @property
    def client(self) -> Any:
        """The aiobotocore client (for botocore event hooks in tests and tools)."""
        return self.connection.client

    async def aclose(self) -> None:
        await self.connection.aclose()

    # -- helpers -------------------------------------------------------------------------

    async def _head(self, location: S3Location) -> dict[str, Any] | None:
        """The object's HeadObject answer, or None when no object has that key."""
        try:
            head: dict[str, Any] = await self.connection.call(
                "head_object", path=location.path, Bucket=location.bucket, Key=location.key)
        except NotFound:
            return None
        return head

    async def _bucket_exists(self, bucket: str) -> bool:
        try:
            await self.connection.call("head_bucket", path=f"/{bucket}", Bucket=bucket)
        except NotFound:
            return False
        return True

    async def _is_folder(self, location: S3Location) -> bool:
        if not location.key:
            return await self._bucket_exists(location.bucket)
        return await prefix_exists(self.connection, location)

    def _missing_bucket(self, bucket: str) -> NotFound:
        return NotFound(f"the bucket {bucket!r} does not exist on {self.connection.endpoint}",
                        path=f"/{bucket}", host=self.connection.endpoint)

    # -- Backend -------------------------------------------------------------------------

    async def stat(self, path: str) -> Entry:
        location = split(path)
        if not location.bucket:
            return Entry(name="/", path="/", is_dir=True)
        if not location.key:
            if not await self._bucket_exists(location.bucket):
                raise self._missing_bucket(location.bucket)
            return Entry(name=location.bucket, path=location.path, is_dir=True,
                         extra={"kind": "bucket"})
        head = await self._head(location)
        if head is not None:
            return head_entry(location, head)
        if await prefix_exists(self.connection, location):
            return Entry(name=location.name, path=location.path, is_dir=True)
        raise NotFound(f"{location.path} does not exist", path=location.path,
                       host=self.connection.endpoint)

    async def list(self, path: str, options: ListOptions = ListOptions()) -> AsyncIterator[Entry]:
        """Stream a folder, bucket or (``/``) the buckets; one ListObjectsV2 page
        (``options.page_size``, at most 1000) is requested whenever the entries in
        hand run out. CommonPrefixes come out as folders, ``dir/`` markers are not
        shown; ``recursive`` lists every file below, without folders."""
        location = split(path)
        async for entry in list_entries(self.connection, location, options):
            yield entry

    async def read(self, path: str, offset: int = 0, length: int | None = None, *,
                   if_match: str | None = None) -> AsyncIterator[bytes]:
        async for chunk in read_object(self.connection, split(path), offset, length, if_match):
            yield chunk

    async def write(self, path: str, reader: AsyncReader, size_hint: int | None,
                    options: WriteOptions = WriteOptions()) -> int:
        """PutObject below ``multipart_threshold``, else a streaming multipart upload
        (also whenever ``size_hint`` is None and the data reaches the threshold)."""
        return await self.upload(path, reader, size_hint, options)

    async def upload(self, path: str, reader: AsyncReader, size_hint: int | None,
                     options: WriteOptions = WriteOptions(), *,
                     session: MultipartSession | None = None, keep_on_failure: bool = False,
                     on_session: Callable[[MultipartSession], None] | None = None) -> int:
        """:meth:`write` with multipart control: ``session`` resumes an upload from
        :meth:`open_multipart_session` (the reader then starts at
        ``session.contiguous()[1]``); ``keep_on_failure`` leaves a failed upload
        resumable; ``on_session(session)`` is called once a multipart upload starts."""
        location = split(path)
        if session is not None and session.location != location:
            raise ValueError(f"the session uploads {session.path}, not {location.path}")
        return await write_object(self.connection, self.settings, location, reader, size_hint,
                                  options, session=session, keep_on_failure=keep_on_failure,
                                  on_session=on_session)

    async def mkdir(self, path: str, parents: bool = True) -> None:
        """Create a bucket (``/bucket``, in the connection's region) or a folder marker.

        With ``parents`` a missing bucket is created and every level gets a marker,
        so folders stay when what is inside them is deleted. Without
        ``directory_markers`` a folder below a bucket cannot exist empty: mkdir
        then only checks that nothing is in the way.
        """
        location = split(path)
        if not location.bucket:
            return
        if not location.key:
            await self._make_bucket(location.bucket, exist_ok=parents)
            return
        if await self._head(location) is not None:
            raise AlreadyExists(f"{location.path} exists and is not a folder",
                                path=location.path)
        if await prefix_exists(self.connection, location):
            if not parents:
                raise AlreadyExists(f"{location.path} already exists", path=location.path)
            return
        parent = location.parent
        if parents:
            if not await self._bucket_exists(location.bucket):
                await self._make_bucket(location.bucket, exist_ok=True)
        elif not await self._is_folder(parent):
            raise NotFound(f"the folder {parent.path} does not exist", path=parent.path)
        if not self.settings.directory_markers:
            log.debug("%s: no directory markers on this store; the folder appears with its "
                      "first file", location.path)
            return
        levels = location.key.split("/")
        keys = ["/".join(levels[: i + 1]) + "/" for i in range(len(levels))]
        for key in keys if parents else keys[-1:]:
            await self.connection.call(
                "put_object", path=location.path, Bucket=location.bucket, Key=key, Body=b"",
                ContentType="application/x-directory")

    async def _make_bucket(self, bucket: str, *, exist_ok: bool) -> None:
        if not exist_ok and await self._bucket_exists(bucket):  # us-east-1 says 200 again
            raise AlreadyExists(f"the bucket {bucket!r} already exists", path=f"/{bucket}")
        params: dict[str, Any] = {"Bucket": bucket}
        region = self.connection.region
        if region and region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            await self.connection.call("create_bucket", path=f"/{bucket}", **params)
        except AlreadyExists:
            if not exist_ok or not await self._bucket_exists(bucket):
                raise

    async def delete(self, path: str, recursive: bool = False) -> None:
        """Delete an object, a folder (with ``recursive``: every key below it, in
        DeleteObjects batches of 1000) or a bucket (emptied first with ``recursive``)."""
        location = split(path)
        if not location.bucket:
            raise PermissionDenied("the root of an S3 store cannot be deleted", path="/")
        if not location.key:
            await self._delete_bucket(location.bucket, recursive)
            return
        if await self._head(location) is not None:
            await self.connection.call("delete_object", path=location.path,
                                       Bucket=location.bucket, Key=location.key)
            return
        prefix = location.prefix
        if not recursive:
            page = await self.connection.call("list_objects_v2", path=location.path,
                                              Bucket=location.bucket, Prefix=prefix, MaxKeys=2)
            keys = [str(obj["Key"]) for obj in page.get("Contents", [])]
            if not keys:
                raise NotFound(f"{location.path} does not exist", path=location.path)
            if keys != [prefix]:
                raise DirectoryNotEmpty(f"the folder {location.path} is not empty",
                                        path=location.path)
            await self.connection.call("delete_object", path=location.path,
                                       Bucket=location.bucket, Key=prefix)
            return
        if await self._delete_prefix(location, prefix) == 0:
            raise NotFound(f"{location.path} does not exist", path=location.path)

    async def _delete_prefix(self, location: S3Location, prefix: str) -> int:
        """Delete every key starting with ``prefix``; returns how many there were."""
        batch: list[str] = []
        count = 0
        failures: list[tuple[str, str, str]] = []
        async for obj in iter_objects(self.connection, location, prefix):
            batch.append(str(obj["Key"]))
            if len(batch) == DELETE_BATCH:
                failures += await self._delete_batch(location, batch)
                count += len(batch)
                batch = []
        if batch:
            failures += await self._delete_batch(location, batch)
            count += len(batch)
        if failures:
            key, code, message = failures[0]
            kind: type[OrbitError] = PermissionDenied if all(
                code == "AccessDenied" for _, code, _ in failures) else OrbitError
            raise kind(f"{len(failures)} of {count} objects under {location.path} could not be "
                       f"deleted, such as {key!r} ({code}: {message})", path=location.path)
        return count

    async def _delete_batch(self, location: S3Location,
                            keys: builtins.list[str]) -> builtins.list[tuple[str, str, str]]:
        self.stats.delete_batches += 1
        answer = await self.connection.call(
            "delete_objects", path=location.path, Bucket=location.bucket,
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True})
        return [(str(e.get("Key")), str(e.get("Code")), str(e.get("Message")))
                for e in answer.get("Errors", [])]

    async def _delete_bucket(self, bucket: str, recursive: bool) -> None:
        location = S3Location(bucket, "")
        if recursive:
            await self._delete_prefix(location, "")
            try:
                for upload in await self.list_multipart_uploads(bucket):
                    await self.abort_multipart_upload(upload.path, upload.upload_id)
            except Unsupported:
                pass
        await self.connection.call("delete_bucket", path=location.path, Bucket=bucket)

    async def rename(self, src: str, dst: str) -> None:
        """Server-side copy then delete; a folder moves key by key (all copied before
        any is deleted). Fails with AlreadyExists if ``dst`` exists."""
        await self._copy_or_move(src, dst, move=True, overwrite=False)

    async def copy(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        """Copy a file or folder to ``dst`` on this store without the data passing
        through us (CopyObject; UploadPartCopy above ``copy_threshold``)."""
        await self._copy_or_move(src, dst, move=False, overwrite=overwrite)

    async def _copy_or_move(self, src: str, dst: str, *, move: bool, overwrite: bool) -> None:
        source, target = split(src), split(dst)
        verb = "moved" if move else "copied"
        if not source.key or not target.key:
            raise Unsupported(f"buckets cannot be {verb}; {verb.rstrip('d')} their contents "
                              "into a folder or another bucket instead", path=src)
        head = await self._head(source)
        if head is None and not await prefix_exists(self.connection, source):
            raise NotFound(f"{source.path} does not exist", path=source.path)
        if source == target or (not overwrite and (await self._head(target) is not None
                                                    or await prefix_exists(self.connection,
                                                                           target))):
            raise AlreadyExists(f"{target.path} already exists", path=target.path)
        if head is not None:
            await copy_object(self.connection, self.settings, source, target,
                              size=int(head.get("ContentLength", 0)), head=head)
            if move:
                await self.connection.call("delete_object", path=source.path,
                                           Bucket=source.bucket, Key=source.key)
            return
        if target.bucket == source.bucket and target.prefix.startswith(source.prefix):
            raise InvalidPath(f"{source.path} cannot be {verb} into itself", path=target.path)

        async def copy_one(obj: dict[str, Any]) -> None:
            key = str(obj["Key"])
            await copy_object(self.connection, self.settings,
                              S3Location(source.bucket, key),
                              target.child_key(key[len(source.prefix):]),
                              size=int(obj.get("Size", 0)), storage_class=obj.get("StorageClass"))

        await run_bounded(iter_objects(self.connection, source, source.prefix),
                          self.settings.parallel_operations, copy_one)
        if move:
            await self._delete_prefix(source, source.prefix)

    async def presign(self, path: str, expires_in: int = 3600) -> str:
        """A URL anyone can GET the object with for ``expires_in`` seconds (at most 7 days)."""
        location = split(path)
        if not location.key:
            raise IsADirectory(f"{location.path} is a bucket; only files have links",
                               path=location.path)
        if not 1 <= expires_in <= MAX_PRESIGN_SECONDS:
            raise ValueError(f"expires_in must be 1..{MAX_PRESIGN_SECONDS} seconds")
        return await self.connection.presign(
            "get_object", {"Bucket": location.bucket, "Key": location.key}, expires_in)

    # -- part-level API ------------------------------------------------------------------

    async def open_multipart_session(self, path: str, *, size: int | None = None,
                                     part_size: int | None = None,
                                     options: WriteOptions = WriteOptions(),
                                     upload_id: str | None = None) -> MultipartSession:
        """Start a multipart upload of ``path`` (``size`` picks the part size so it
        fits in 10,000 parts), or with ``upload_id`` resume one: its parts come from
        ListParts. NotFound when that upload is gone (start a new one then)."""
        location = split(path)
        if not location.key:
            raise InvalidPath(f"{location.path} is a bucket; a file needs a name below it",
                              path=location.path)
        plan = PartPlan.for_size(size, part_size or self.settings.part_size)
        if upload_id is not None:
            return await resume_session(self.connection, location, upload_id, plan=plan,
                                        if_none_match=not options.overwrite)
        if not options.overwrite:
            await ensure_absent(self.connection, location)
        return await start_session(self.connection, location,
                                   object_args(location.key, options), plan=plan,
                                   if_none_match=not options.overwrite)

    async def abort_multipart_upload(self, path: str, upload_id: str) -> None:
        """Discard the multipart upload ``upload_id`` of ``path`` (gone already: fine)."""
        location = split(path)
        session = MultipartSession(self.connection, location, upload_id,
                                   plan=PartPlan.for_size(None, self.settings.part_size))
        await session.abort()

    async def list_multipart_uploads(self, bucket: str,
                                     prefix: str = "") -> builtins.list[PendingUpload]:
        """Multipart uploads begun under ``prefix`` of ``bucket`` and not finished."""
        return await list_pending_uploads(self.connection, bucket, prefix)
