"""Entry script for the PyInstaller bundle (PyInstaller needs a script, not an entry point).

Equivalent to the ``orbit-gui`` console script: ``orbit_gui.app:main``.
"""

import sys

from orbit_gui.app import main

if __name__ == "__main__":
    sys.exit(main())
