"""Render the transfer queue panel mid-transfer to docs/screenshots/queue-panel.png.

Starts a real moto S3 server on loopback, then runs, through a real
TransferQueue, a multipart upload and a sliding-window download, both with a
bandwidth limit so that they are visibly in progress, next to a finished, a
failed and a queued transfer. Both large transfers are expanded and the panel
is grabbed with QWidget.grab(). Run it under Xvfb (``xvfb-run -a``) or with
QT_QPA_PLATFORM=offscreen.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots" / "queue-panel.png"
MiB = 1024 * 1024


async def shoot(work: Path) -> None:
    from orbit_gui.engine.backend import LocalFileReader
    from orbit_gui.engine.backends.local import LocalBackend
    from orbit_gui.engine.backends.s3 import S3Backend
    from orbit_gui.engine.transfer import (
        ConflictPolicy,
        Endpoint,
        TransferOptions,
        TransferQueue,
        TransferRequest,
        TransferState,
    )
    from orbit_gui.views.transfer_panel import TransferPanel
    from tests.engine.s3_helpers import s3_profile
    from tests.models.qt_waits import wait_until
    from tests.servers.moto import start_moto
    from tests.transfer_support import make_tree, write_pattern

    (work / "moto").mkdir()
    info, process = start_moto(work / "moto")
    try:
        s3 = await S3Backend.from_profile(replace(s3_profile(info, stock=True), name="prod-s3"),
                                          info.secret_key)
        local = LocalBackend()
        for bucket in ("/media-bucket", "/backups"):
            await s3.mkdir(bucket)
        video = work / "video.mov"
        write_pattern(video, 240 * MiB)
        dump = work / "dump.tar"
        write_pattern(dump, 96 * MiB, seed=3)
        reader = LocalFileReader(str(dump))
        try:
            await s3.write("/backups/dump.tar", reader, dump.stat().st_size)
        finally:
            await reader.aclose()
        notes = work / "notes.txt"
        notes.write_text("meeting notes\n" * 400)
        make_tree(work / "photos", small=1204)

        def opts(**kwargs: object) -> TransferOptions:
            return TransferOptions(conflict=ConflictPolicy.OVERWRITE, **kwargs)  # type: ignore[arg-type]

        async with TransferQueue(concurrency=2, max_rate=20) as queue:
            panel = TransferPanel(queue)
            panel.setWindowTitle("Orbit — transfers")
            panel.resize(1480, 600)
            panel.show()
            done = queue.add(TransferRequest(Endpoint(local, str(notes)),
                                             Endpoint(s3, "/media-bucket/notes.txt", "prod-s3"),
                                             options=opts()))
            await done.wait()
            failed = queue.add(TransferRequest(
                Endpoint(s3, "/backups/2025/db-old.tar", "prod-s3"),
                Endpoint(local, str(work / "db-old.tar")), options=opts()))
            await failed.wait()
            up = queue.add(TransferRequest(
                Endpoint(local, str(video)), Endpoint(s3, "/media-bucket/2026/video.mov",
                                                      "prod-s3"),
                options=opts(part_size=5 * MiB, window=4, bwlimit=24 * MiB)))
            down = queue.add(TransferRequest(
                Endpoint(s3, "/backups/dump.tar", "prod-s3"),
                Endpoint(local, str(work / "restore" / "dump.tar")),
                options=opts(part_size=2 * MiB, window=4, bwlimit=9 * MiB)))
            queue.add(TransferRequest(Endpoint(local, str(work / "photos")),
                                      Endpoint(s3, "/media-bucket/2026/photos", "prod-s3"),
                                      recursive=True, options=opts()))
            model = panel.model

            def far_enough() -> bool:
                up_snap, down_snap = model.snapshot(up.id), model.snapshot(down.id)
                return (up_snap is not None and down_snap is not None
                        and (up_snap.fraction or 0) > 0.55 and (down_snap.fraction or 0) > 0.4
                        and up_snap.state is TransferState.TRANSFERRING
                        and model.rowCount(model.row_of(up.id)) == 4
                        and model.rowCount(model.row_of(down.id)) == 4)

            await asyncio.wait_for(wait_until(far_enough, model.flushed), 120)
            for key in (up.id, down.id):
                panel.view.expand(panel.filter.mapFromSource(model.row_of(key)))
            await asyncio.sleep(0.2)  # let the view paint the expanded rows
            OUT.parent.mkdir(parents=True, exist_ok=True)
            if not panel.grab().save(str(OUT)):
                raise SystemExit(f"could not write {OUT}")
            print(f"wrote {OUT}")
            model.close()
            await queue.cancel_all()
        await s3.delete("/media-bucket", recursive=True)
        await s3.aclose()
    finally:
        process.stop()


def main() -> int:
    sys.path.insert(0, str(ROOT))
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("orbit-gui")
    with tempfile.TemporaryDirectory(prefix="orbit-queue-shot-") as work:
        qasync.run(shoot(Path(work)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
