"""Opening S3Backends against the test servers (moto, ``rclone serve s3``).

Shared by the conformance cases, the S3 engine tests and the transfer model tests.
rclone stores objects as files, so it cannot hold ``dir/`` markers: the conformance
backends are opened with ``directory_markers=False`` there and their scratch roots
are fresh buckets. The transfer and window tests open ``stock`` profiles instead
(the backend's own defaults).

The fixtures (``s3``, ``store``, ``proxy``, ``proxied``) are used by importing them
into a test module. They run on the ``s3`` fixture in that module's scope: here both
servers; a module can define its own ``s3`` (tests/models/transfer_fixtures.py:
moto only).
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

import pytest

from orbit_gui.engine import Backend, NotFound, Profile
from orbit_gui.engine.backends.s3 import S3Backend
from tests.engine.delay_proxy import DelayProxy
from tests.servers.fixtures import unique_name
from tests.servers.info import S3Server

__all__ = [
    "CONTRACT_BUCKET",
    "connect",
    "open_s3",
    "pending_uploads",
    "proxied",
    "proxy",
    "record_requests",
    "s3",
    "s3_bucket",
    "s3_profile",
    "s3_scratch",
    "store",
    "upstream",
]

CONTRACT_BUCKET = "orbit-contract"
_made: set[tuple[str, str]] = set()


def s3_profile(server: S3Server, endpoint_url: str | None = None, *, stock: bool = False,
               **options: Any) -> Profile:
    """A profile for ``server`` (secret passed separately, as from the keyring).

    ``endpoint_url`` reaches the server another way (a proxy in front of it). The
    profile is the conformance one, with a 120 s read timeout and, on rclone, no
    ``dir/`` markers, unless ``stock``: then both stay at the backend's defaults
    (60 s, markers written), as the transfer and window tests have them.
    """
    base: dict[str, Any] = {
        "endpoint_url": endpoint_url or server.endpoint_url,
        "region": server.region,
        "access_key": server.access_key,
        "path_style": True,
    }
    if not stock:
        base["read_timeout"] = 120
        if server.name == "rclone":
            base["directory_markers"] = False
    base.update(options)
    return Profile(name=f"s3-{server.name}", kind="s3", options=base)


async def open_s3(server: S3Server, endpoint_url: str | None = None, *,
                  secret: str | None = None, stock: bool = False,
                  **options: Any) -> S3Backend:
    """A backend on ``server`` with its secret key (or ``secret``); see ``s3_profile``."""
    profile = s3_profile(server, endpoint_url, stock=stock, **options)
    return await S3Backend.from_profile(profile,
                                        server.secret_key if secret is None else secret)


async def connect(server: S3Server, endpoint_url: str | None = None) -> Backend:
    """A ``stock`` backend on ``server``, as the transfer and window tests open it."""
    return await open_s3(server, endpoint_url, stock=True)


def upstream(server: S3Server) -> tuple[str, int]:
    """The host and port a proxy in front of ``server`` forwards to."""
    endpoint = urlsplit(server.endpoint_url)
    assert endpoint.hostname is not None and endpoint.port is not None
    return endpoint.hostname, endpoint.port


def record_requests(backend: Any) -> list[str]:
    """The names of the S3 operations ``backend`` calls from now on, in order."""
    seen: list[str] = []
    backend.client.meta.events.register("before-call.s3.*",
                                        lambda model, **_: seen.append(model.name))
    return seen


async def pending_uploads(backend: Backend, bucket: str) -> list[Any]:
    """The multipart uploads still open in ``bucket`` ("/name")."""
    store: Any = backend
    return list(await store.list_multipart_uploads(bucket.strip("/")))


@asynccontextmanager
async def s3_bucket(server: S3Server, prefix: str) -> AsyncIterator[tuple[Backend, str]]:
    """A stock backend on ``server`` and a fresh bucket ("/<prefix>-…") on it; the
    bucket is deleted and the backend closed afterwards."""
    backend = await connect(server)
    bucket = "/" + unique_name(prefix)
    await backend.mkdir(bucket)
    try:
        yield backend, bucket
    finally:
        try:
            await backend.delete(bucket, recursive=True)
        finally:
            await backend.aclose()


@asynccontextmanager
async def s3_scratch(server: S3Server, options: Mapping[str, Any] | None = None
                     ) -> AsyncIterator[tuple[S3Backend, str]]:
    """A backend and an empty scratch folder on ``server``, removed afterwards.

    moto: ``/orbit-contract/t-<uuid>`` (a folder with its marker; the bucket is
    made once per server). rclone: a fresh bucket ``/t-<uuid>`` (it cannot keep
    an empty folder below a bucket), removed on disk afterwards: deleting
    thousands of keys through ``serve s3`` takes minutes.
    """
    backend = await open_s3(server, **dict(options or {}))
    token = uuid.uuid4().hex[:12]
    try:
        if server.name == "rclone":
            root = f"/t-{token}"
            await backend.mkdir(root)
        else:
            if (server.endpoint_url, CONTRACT_BUCKET) not in _made:
                await backend.mkdir(f"/{CONTRACT_BUCKET}", parents=True)
                _made.add((server.endpoint_url, CONTRACT_BUCKET))
            root = f"/{CONTRACT_BUCKET}/t-{token}"
            await backend.mkdir(root)
        try:
            yield backend, root
        finally:
            if server.name == "rclone" and server.data_dir is not None:
                await asyncio.to_thread(shutil.rmtree, server.data_dir / root.lstrip("/"),
                                        True)
            else:
                with suppress(NotFound):
                    await backend.delete(root, recursive=True)
    finally:
        await backend.aclose()


@pytest.fixture(params=["moto", "rclone"])
def s3(request: pytest.FixtureRequest) -> S3Server:
    """Each S3 test server in turn."""
    server: S3Server = request.getfixturevalue(f"{request.param}_s3")
    return server


@pytest.fixture
async def store(s3: S3Server) -> AsyncIterator[tuple[Backend, str]]:
    """A connected (stock) backend and a fresh bucket ("/name") on it."""
    async with s3_bucket(s3, "xfer") as made:
        yield made


@pytest.fixture
async def proxy(s3: S3Server) -> AsyncIterator[DelayProxy]:
    """A delaying proxy in front of ``s3``."""
    async with DelayProxy(*upstream(s3)) as started:
        yield started


@pytest.fixture
async def proxied(s3: S3Server, proxy: DelayProxy) -> AsyncIterator[Backend]:
    """The same server, reached through ``proxy`` (a stock backend)."""
    backend = await connect(s3, proxy.url)
    try:
        yield backend
    finally:
        await backend.aclose()
