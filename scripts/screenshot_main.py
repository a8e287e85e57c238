"""Screenshot the real app, connected to a real S3 server, on a virtual screen.

    scripts/test-session.sh .venv/bin/python scripts/screenshot_main.py

Starts ``rclone serve s3`` over a folder of sample files, saves a profile (its
secret in the session's keyring, which test-session.sh provides), starts Xvfb,
runs ``python -m orbit_gui LOCAL --connect media`` and grabs the whole screen
with ImageMagick's ``import`` to docs/screenshots/main-window.png.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots" / "main-window.png"
sys.path.insert(0, str(ROOT))

from orbit_gui.engine import Profile  # noqa: E402
from orbit_gui.engine.profiles import ProfileStore  # noqa: E402
from tests.servers.rclone import start_rclone  # noqa: E402

_DISPLAY = ":97"


def _sample(folder: Path, names: dict[str, int], stamp: float) -> None:
    rng = random.Random(7)
    for name, size in names.items():
        path = folder / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            out.truncate(size)  # sparse: sizes look real without using the disk
        when = stamp - rng.randrange(3600, 40 * 86400)
        os.utime(path, (when, when))


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="orbit-shot-"))
    now = time.time()
    (work / "rclone" / "data").mkdir(parents=True)
    bucket = work / "rclone" / "data" / "media-bucket" / "2026"
    _sample(bucket, {"raw/": 0, "edits/": 0, "img_001.jpg": 4_300_000,
                     "img_002.jpg": 3_900_000, "img_003.jpg": 5_100_000,
                     "interview.mov": 180_000_000, "captions.srt": 18_400,
                     "storyboard.pdf": 2_700_000, "budget.xlsx": 48_000,
                     "raw/a.cr3": 25_000_000, "edits/cut1.mov": 90_000_000}, now)
    server, process = start_rclone(work / "rclone")  # after the files: its cache sees them
    local = work / "home" / "photos"
    _sample(local, {"holiday/": 0, "scans/": 0, "family.jpg": 3_200_000,
                    "beach.png": 8_100_000, "notes.txt": 2_100, "video.mov": 4_800_000_000,
                    "dump.tar": 2_400_000_000, "slides.odp": 1_300_000}, now)
    config = work / "config"
    env = {**os.environ, "ORBIT_CONFIG_DIR": str(config), "DISPLAY": _DISPLAY,
           "QT_QPA_PLATFORM": "xcb", "ORBIT_LOG_LEVEL": "INFO"}
    os.environ["ORBIT_CONFIG_DIR"] = str(config)
    ProfileStore().save(Profile("media", "s3", root="/media-bucket/2026", options={
        "endpoint_url": server.endpoint_url, "region": server.region,
        "access_key": server.access_key, "path_style": True,
        "directory_markers": False}), server.secret_key)
    ProfileStore().save(Profile("web01", "sftp", host="web01.example.net", port=22,
                                user="deploy", root="/var/www",
                                options={"auth_method": "agent"}))
    xvfb = subprocess.Popen(["Xvfb", _DISPLAY, "-screen", "0", "1280x800x24", "-nolisten",
                             "tcp"], stderr=subprocess.DEVNULL)
    app = None
    try:
        time.sleep(1.0)
        app = subprocess.Popen([sys.executable, "-m", "orbit_gui", str(local),
                                "--connect", "media"], cwd=ROOT, env=env,
                               stderr=subprocess.PIPE, text=True)
        assert app.stderr is not None
        for line in app.stderr:
            sys.stderr.write(line)
            if "window shown on" in line:
                break
        time.sleep(6.0)  # connect, list, paint
        OUT.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["import", "-display", _DISPLAY, "-window", "root", str(OUT)],
                       check=True)
        print(f"wrote {OUT}")
        return 0
    finally:
        if app is not None:
            app.send_signal(signal.SIGTERM)
            app.wait(30)
        xvfb.terminate()
        xvfb.wait(10)
        process.stop()


if __name__ == "__main__":
    sys.exit(main())
