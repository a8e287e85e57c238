"""Huge folders, on this computer (100,000 entries) and in a bucket: the first rows
show while the listing still streams, and the event loop keeps turning."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer

from orbit_gui.engine import Backend
from orbit_gui.engine.backends.local import LocalBackend
from orbit_gui.models.listing_model import ListingState
from tests.engine.s3_helpers import open_s3
from tests.models.qt_waits import listing_model, wait_until
from tests.servers.fixtures import serve_in
from tests.servers.info import S3Server
from tests.servers.rclone import start_rclone

pytestmark = [pytest.mark.qt]

COUNT = 100_000
BUCKET_COUNT = 20_000
"""``rclone serve s3`` rereads the whole folder for every page of 1,000: fewer there."""


def make_empty_files(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for i in range(count):
        os.close(os.open(folder / f"entry{i:06d}", os.O_CREAT | os.O_WRONLY, 0o644))


@pytest.fixture(scope="module")
def big_bucket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """``rclone serve s3`` over a bucket of BUCKET_COUNT empty files, made before it
    starts (its directory cache would hide files added behind its back)."""
    root = tmp_path_factory.mktemp("rclone-scale")
    make_empty_files(root / "data" / "orbit-scale", BUCKET_COUNT)
    yield from serve_in(root, tmp_path_factory, "rclone", lambda where, _: start_rclone(where))


@pytest.fixture(params=["local", "s3"])
async def big_folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                     ) -> AsyncIterator[tuple[Backend, str]]:
    if request.param == "local":
        folder = tmp_path_factory.mktemp("scale") / "big"
        make_empty_files(folder, COUNT)
        yield LocalBackend(), str(folder)
        return
    server: S3Server = request.getfixturevalue("big_bucket")
    backend = await open_s3(server)
    try:
        yield backend, "/orbit-scale"
    finally:
        await backend.aclose()


async def test_first_rows_show_while_a_huge_folder_streams(
        big_folder: tuple[Backend, str]) -> None:
    # No qtmodeltester here: it re-checks every row on each insert (test_listing_model
    # runs it on a streaming listing).
    backend, path = big_folder
    # Locally the whole folder is listed; from the bucket only what a user scrolling
    # through the first 5,000 rows would pull.
    local = backend.scheme == "local"
    wanted = COUNT if local else 5_000
    heartbeat = QTimer()
    heartbeat.setInterval(10)
    beats: list[int] = []
    async with listing_model(backend, fetch_size=2 * COUNT if local else wanted) as model:
        batches: list[tuple[ListingState, int]] = []
        model.rowsInserted.connect(
            lambda *_: batches.append((model.state, model.rowCount())))
        heartbeat.timeout.connect(lambda: beats.append(model.rowCount()))
        heartbeat.start()
        model.set_path(path)
        await wait_until(lambda: model.rowCount() > 0 or model.state is not ListingState.LISTING,
                         model.rowsInserted, model.state_changed)
        first_rows_at = model.rowCount()
        assert first_rows_at > 0, model.error
        assert model.state is ListingState.LISTING  # shown before the listing ends
        assert first_rows_at < wanted
        await wait_until(lambda: model.state is not ListingState.LISTING, model.state_changed)
        heartbeat.stop()
        assert model.state is (ListingState.DONE if local else ListingState.PAUSED), model.error
        assert model.rowCount() == wanted
    assert len(batches) > 3  # rows came in many batches, not at the end
    assert all(state is ListingState.LISTING for state, _ in batches[:-1])
    # The loop kept turning while rows streamed in: the heartbeat saw the count grow.
    growing = sorted(set(beats))
    assert len(growing) > 3 and growing[0] < wanted
