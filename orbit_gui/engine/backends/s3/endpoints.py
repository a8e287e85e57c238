"""Endpoint resolution that the object key does not defeat.

botocore works out each request's endpoint by evaluating S3's endpoint ruleset
(hundreds of rules) and caches the result by every parameter the ruleset
declares, ``Key`` and ``Prefix`` included. Each new object key is then a miss: a
folder of small files paid ~2 ms of CPU per request for it, 14 % of a download's
loop thread. The rules themselves never read those parameters, so the result
cannot depend on them: they are dropped before the cached lookup, and requests
in one bucket share one resolution. Which parameters go is read from the ruleset
the client was made with (references and templates), so a botocore whose rules
do read them keeps them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["resolve_once_per_bucket", "unread_parameters"]


_TEMPLATE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)")
"""A parameter named in a template string such as ``"https://{Bucket}.{url#authority}"``."""


def _refs(node: Any) -> Iterator[str]:
    """Every name ``node`` (part of a ruleset) reads: ``{"ref": name}`` or ``{name}``
    in a template."""
    if isinstance(node, str):
        yield from _TEMPLATE.findall(node)
    elif isinstance(node, Mapping):
        ref = node.get("ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def unread_parameters(ruleset: Mapping[str, Any]) -> frozenset[str]:
    """The parameters ``ruleset`` declares that none of its rules reads."""
    return frozenset(ruleset.get("parameters", {})) - set(_refs(ruleset.get("rules", [])))


_RULESET = "endpoint-rule-set-1"
_unread_by_file: dict[str, frozenset[str]] = {}
"""What :func:`unread_parameters` found, by ruleset file: scanning it takes ~9 ms,
which every connection opened would pay again (each session has its own loader)."""


def _unread_in(loader: Any) -> frozenset[str]:
    """The parameters unread by the S3 ruleset ``loader`` gives its clients. Its calls
    are the client's own, so the loader's cache answers them: no file is read."""
    version = loader.determine_latest_version("s3", _RULESET)
    _, path = loader.load_data_with_path(os.path.join("s3", version, _RULESET))
    unread = _unread_by_file.get(path)
    if unread is None:
        ruleset = loader.load_service_model("s3", _RULESET, api_version=None)
        unread = _unread_by_file[path] = unread_parameters(ruleset)
    return unread


def resolve_once_per_bucket(client: Any, loader: Any) -> None:
    """Make ``client`` (an S3 client ``loader``'s data built) resolve endpoints
    without the parameters its rules never read. Leaves a client whose botocore
    has other internals as it is."""
    provider: Any = getattr(getattr(client, "_ruleset_resolver", None), "_provider", None)
    resolve = getattr(provider, "resolve_endpoint", None)
    if resolve is None:
        return
    unread = _unread_in(loader)
    if not unread:
        return

    def resolve_endpoint(**parameters: Any) -> Any:
        return resolve(**{k: v for k, v in parameters.items() if k not in unread})

    provider.resolve_endpoint = resolve_endpoint
