"""``python -m orbit_gui [FOLDER]``: run the desktop app."""

import sys

from .app import main

__all__: list[str] = []

sys.exit(main())
