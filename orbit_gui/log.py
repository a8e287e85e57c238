"""Logging for the app: a rotating file, stderr for warnings, secrets redacted.

The log lives in the platform's user log folder (``~/.local/state/orbit-gui/log``
on Linux), or in ``$ORBIT_CONFIG_DIR/logs`` when that variable is set.
``ORBIT_LOG_LEVEL`` (e.g. ``INFO``) makes stderr more talkative.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
from pathlib import Path

import platformdirs

__all__ = ["log_dir", "redact", "setup_logging"]

LOG_FILE = "orbit-gui.log"
_MAX_BYTES = 2 * 1024 * 1024
_BACKUPS = 3
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b([\w-]*(?:password|passwd|secret|token|passphrase|credential|signature"
    r"|api[_-]?key|access[_-]?key)[\w-]*)(\s*[=:]\s*|\"\s*:\s*\"|'\s*:\s*')([^\s,;&'\"]+)"
)
_AUTHORIZATION = re.compile(r"(?i)\b(authorization\s*[=:]\s*)([^\r\n,;]+)")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@/\s]+)(@)")


def redact(text: str) -> str:
    """Blank out anything that looks like a password, key, token or signature."""
    text = _AUTHORIZATION.sub(r"\1***", text)
    text = _SECRET_ASSIGNMENT.sub(r"\1\2***", text)
    return _URL_PASSWORD.sub(r"\1***\3", text)


class _RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted record, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def log_dir() -> Path:
    override = os.environ.get("ORBIT_CONFIG_DIR")
    if override:
        return Path(override) / "logs"
    return Path(platformdirs.user_log_dir("orbit-gui", appauthor=False))


def setup_logging() -> Path | None:
    """Log to the rotating file and to stderr; return the file (None if unwritable)."""
    root = logging.getLogger()
    formatter = _RedactingFormatter(_FORMAT)
    names = logging.getLevelNamesMapping()
    console_level = names.get(os.environ.get("ORBIT_LOG_LEVEL", "").upper(), logging.WARNING)
    root.setLevel(min(console_level, logging.INFO))

    console = logging.StreamHandler()
    console.setLevel(console_level)
    console.setFormatter(formatter)
    root.addHandler(console)

    # Chatty libraries: their debug output would drown ours.
    for name in ("asyncio", "botocore", "aiobotocore", "asyncssh", "smbprotocol", "qasync"):
        logging.getLogger(name).setLevel(logging.INFO)

    path = log_dir() / LOG_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=_MAX_BYTES, backupCount=_BACKUPS, encoding="utf-8")
    except OSError as exc:
        logging.getLogger(__name__).warning("cannot write the log file %s: %s", path, exc)
        return None
    handler.setLevel(logging.INFO)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    return path
