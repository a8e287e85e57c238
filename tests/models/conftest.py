"""Model and view tests run on the offscreen Qt platform (unless one is chosen)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
