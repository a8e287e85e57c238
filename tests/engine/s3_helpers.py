"""Opening S3Backends against the test servers (moto, ``rclone serve s3``).

Shared by the conformance cases and the S3 engine tests. rclone stores objects
as files, so it cannot hold ``dir/`` markers: its backends are opened with
``directory_markers=False`` and their scratch roots are fresh buckets.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any

from orbit_gui.engine import NotFound, Profile
from orbit_gui.engine.backends.s3 import S3Backend
from tests.servers.info import S3Server

__all__ = ["CONTRACT_BUCKET", "open_s3", "s3_profile", "s3_scratch"]

CONTRACT_BUCKET = "orbit-contract"
_made: set[tuple[str, str]] = set()


def s3_profile(server: S3Server, **options: Any) -> Profile:
    """A profile for ``server`` (secret passed separately, as from the keyring)."""
    base: dict[str, Any] = {
        "endpoint_url": server.endpoint_url,
        "region": server.region,
        "access_key": server.access_key,
        "path_style": True,
        "read_timeout": 120,
    }
    if server.name == "rclone":
        base["directory_markers"] = False
    base.update(options)
    return Profile(name=f"s3-{server.name}", kind="s3", options=base)


async def open_s3(server: S3Server, secret: str | None = None,
                  **options: Any) -> S3Backend:
    return await S3Backend.from_profile(s3_profile(server, **options),
                                        server.secret_key if secret is None else secret)


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
