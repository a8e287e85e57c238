"""Render the connection manager with a few realistic saved profiles to
docs/screenshots/connection-manager.png (QT_QPA_PLATFORM=offscreen works).

Uses a temporary config folder and an in-memory keyring, so nothing of the
user's is read or written.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import keyring
from keyring.backend import KeyringBackend
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots" / "connection-manager.png"


class MemoryKeyring(KeyringBackend):
    priority = 1
    values: dict[tuple[str, str], str] = {}  # noqa: RUF012 - one keyring per process

    def get_password(self, service: str, username: str) -> str | None:
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.values.pop((service, username), None)


def main() -> int:
    os.environ["ORBIT_CONFIG_DIR"] = tempfile.mkdtemp(prefix="orbit-shot-")
    keyring.set_keyring(MemoryKeyring())  # type: ignore[no-untyped-call]
    sys.path.insert(0, str(ROOT))
    from orbit_gui.engine import Profile
    from orbit_gui.engine.profiles import ProfileStore
    from orbit_gui.views.connection_dialog import ConnectionDialog

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("orbit-gui")
    store = ProfileStore()
    store.save(Profile("Media archive", "s3", root="/media-bucket", options={
        "provider": "minio", "endpoint_url": "https://minio.studio.lan:9000",
        "region": "us-east-1", "path_style": True, "access_key": "studio-uploader"}),
        "minio-secret")
    store.save(Profile("Production backups", "s3", root="/acme-backups", options={
        "provider": "aws", "region": "eu-west-1", "path_style": False,
        "access_key": "AKIAIOSFODNN7EXAMPLE"}), "aws-secret")
    store.save(Profile("Web server", "sftp", host="web01.acme.example", port=22, user="deploy",
                       root="/var/www", options={"auth_method": "key",
                                                 "key_file": str(Path.home())}))
    store.save(Profile("Office NAS", "smb", host="nas.office.lan", port=445, user="ana",
                       root="/projects", options={"share": "projects", "domain": "ACME",
                                                  "encrypt": "required"}), "nas-secret")
    dialog = ConnectionDialog(store)
    dialog.resize(900, 600)
    dialog.select("Media archive")
    dialog.show()
    for _ in range(5):
        app.processEvents()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    if not dialog.grab().save(str(OUT)):
        print(f"could not write {OUT}", file=sys.stderr)
        return 1
    print(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
