"""Screenshot the app's window while it uploads to and downloads from a real S3 server.

    scripts/test-session.sh xvfb-run -a -s "-screen 0 1280x860x24" \\
        .venv/bin/python scripts/screenshot_transfers.py

Builds the app's own window and wiring (a Workbench, as ``orbit-gui`` does),
connects it to ``rclone serve s3``, starts a multipart upload and a windowed
download through the controller (what a drop does), with a bandwidth limit so
both are in flight, opens both rows in the queue panel and grabs the window to
docs/screenshots/transfers.png.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

import qasync
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots" / "transfers.png"
MiB = 1024 * 1024
sys.path.insert(0, str(ROOT))

from orbit_gui.engine import Profile  # noqa: E402
from orbit_gui.engine.profiles import ProfileStore, SecretStore  # noqa: E402
from orbit_gui.engine.transfer import TransferState  # noqa: E402
from orbit_gui.models.settings import AppSettings  # noqa: E402
from orbit_gui.workbench import Workbench  # noqa: E402
from tests.servers.rclone import start_rclone  # noqa: E402


def _file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        block = os.urandom(MiB)
        for _ in range(size // MiB):
            out.write(block)


async def shoot(work: Path) -> None:
    data = work / "rclone" / "data"
    _file(data / "media-bucket" / "backups" / "dump.tar", 160 * MiB)
    _file(data / "media-bucket" / "2026" / "trailer.mp4", 12 * MiB)
    local = work / "home" / "video"
    _file(local / "video.mov", 200 * MiB)
    _file(local / "notes" / "script.txt", MiB)
    server, process = start_rclone(work / "rclone")
    store = ProfileStore(work / "config" / "profiles.json", SecretStore("orbit-screenshot"))
    store.save(Profile("media", "s3", root="/media-bucket", options={
        "endpoint_url": server.endpoint_url, "region": server.region,
        "access_key": server.access_key, "path_style": True,
        "directory_markers": False}), server.secret_key)
    settings = AppSettings(QSettings(str(work / "config" / "settings.ini"),
                                     QSettings.Format.IniFormat))
    bench = await Workbench.open(store=store, settings=settings,
                                 journal_path=work / "journal.sqlite3")
    try:
        window = bench.window
        window.resize(1280, 860)
        window.show()
        window.local_pane.navigate(str(local))
        bench.queue.set_bwlimit(24 * MiB)
        assert await bench.controller.connect_named("media")
        remote = window.remote_pane
        await bench.controller.copy(window.local_pane, [str(local / "video.mov")], remote,
                                    "/media-bucket")
        await bench.controller.copy(remote, ["/media-bucket/backups/dump.tar"],
                                    window.local_pane, str(local))
        transfers = bench.queue.transfers
        for _ in range(200):
            await asyncio.sleep(0.05)
            if all(t.snapshot().state is TransferState.TRANSFERRING and t.snapshot().parts
                   and t.snapshot().bytes_done > 40 * MiB for t in transfers):
                break
        bench.panel.view.expandAll()
        window.resizeDocks([window.transfer_dock], [430], Qt.Orientation.Vertical)
        await asyncio.sleep(1.5)  # a few ticks of the panel's model
        OUT.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(OUT))
        print(f"wrote {OUT}")
    finally:
        await bench.aclose()
        store.secrets.delete("media")
        process.stop()


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="orbit-shot-"))
    os.environ["ORBIT_CONFIG_DIR"] = str(work / "config")
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("orbit-gui")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(shoot(work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
