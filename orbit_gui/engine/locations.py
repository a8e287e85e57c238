"""Where Orbit keeps its files: profiles, known hosts, the journal, logs.

``ORBIT_CONFIG_DIR`` moves all of them under one folder (tests, portable use).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["APP_NAME", "config_dir", "log_dir", "state_dir"]

APP_NAME = "orbit-gui"


def _override(sub: str) -> Path | None:
    root = os.environ.get("ORBIT_CONFIG_DIR")
    return Path(root) / sub if root else None


def config_dir() -> Path:
    """Profiles and the app's own known-hosts file."""
    return _override("config") or Path(platformdirs.user_config_dir(APP_NAME))


def state_dir() -> Path:
    """The transfer journal."""
    return _override("state") or Path(platformdirs.user_state_dir(APP_NAME))


def log_dir() -> Path:
    return _override("logs") or Path(platformdirs.user_log_dir(APP_NAME))
