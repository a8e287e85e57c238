"""aiohttp, imported without loading CA stores nobody asked for yet.

At import, aiohttp builds two default TLS contexts (verified and unverified) and
loads the system CA store into each: ~0.1 s of CPU on every S3 command, a sixth
of what ``orbit ls`` spends before its first entry. Orbit never uses them: aiobotocore
gives every connector a context of its own, or ``ssl=False`` for an ``http://``
endpoint. So the contexts created while aiohttp is imported load their store when
they first wrap a connection instead; until then they are the same contexts,
configured the same way. Contexts other threads create meanwhile are left alone.
"""

from __future__ import annotations

import ssl
import sys
import threading
from typing import Any

__all__ = ["import_aiohttp"]

_LOAD = threading.Lock()


class _StoreOnFirstUse(ssl.SSLContext):
    """A context that loads the default CA store when it first wraps a connection,
    then becomes a plain :class:`ssl.SSLContext` again."""

    def _load_store(self) -> None:
        with _LOAD:
            if type(self) is _StoreOnFirstUse:
                ssl.SSLContext.set_default_verify_paths(self)
                self.__class__ = ssl.SSLContext  # type: ignore[assignment]

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self._load_store()
        return ssl.SSLContext.wrap_socket(self, *args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self._load_store()
        return ssl.SSLContext.wrap_bio(self, *args, **kwargs)


def import_aiohttp() -> None:
    """Import aiohttp (once), deferring its default contexts' CA stores."""
    if "aiohttp" in sys.modules:
        return
    importing = threading.get_ident()
    deferred: list[ssl.SSLContext] = []
    load_now = ssl.SSLContext.set_default_verify_paths
    own = vars(ssl.SSLContext).get("set_default_verify_paths")

    def set_default_verify_paths(context: ssl.SSLContext) -> None:
        if threading.get_ident() == importing:
            deferred.append(context)
        else:
            load_now(context)

    ssl.SSLContext.set_default_verify_paths = set_default_verify_paths  # type: ignore[method-assign,assignment]
    try:
        import aiohttp  # noqa: F401  # the import is the point
    finally:
        if own is None:
            del ssl.SSLContext.set_default_verify_paths  # the inherited C method again
        else:
            ssl.SSLContext.set_default_verify_paths = own  # type: ignore[method-assign]
        for context in deferred:
            context.__class__ = _StoreOnFirstUse


import_aiohttp()  # on import: the package imports this module before any other
