"""asyncssh, imported without building programs to look for liboqs.

At import, asyncssh looks for liboqs (post-quantum key exchange) with
``ctypes.util.find_library``. On Linux, where it is not installed, that runs
ldconfig, then gcc (with collect2 and ld), then ld, for each of two names: ~30 ms
and some two dozen programs started before every SFTP connection. While asyncssh is
imported, the dynamic linker's cache (what ldconfig lists, and what loading a
library by its soname searches) is asked first; only a name it does not know, with
``LD_LIBRARY_PATH`` set, still gets the full search.
"""

from __future__ import annotations

import ctypes.util
import os
import sys

__all__ = ["import_asyncssh"]


def import_asyncssh() -> None:
    """Import asyncssh (once), looking libraries up in the linker's cache."""
    in_cache = getattr(ctypes.util, "_findSoname_ldconfig", None)
    if "asyncssh" in sys.modules or not sys.platform.startswith("linux") or in_cache is None:
        import asyncssh  # the import is the point
        return
    full_search = ctypes.util.find_library

    def find_library(name: str) -> str | None:
        found: str | None = in_cache(name)
        if found is None and os.environ.get("LD_LIBRARY_PATH"):
            found = full_search(name)
        return found

    ctypes.util.find_library = find_library
    try:
        import asyncssh  # noqa: F401
    finally:
        ctypes.util.find_library = full_search


import_asyncssh()  # on import: the package imports this module before any other
