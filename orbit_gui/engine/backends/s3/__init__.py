"""S3 and S3-compatible stores (aiobotocore): see :class:`S3Backend`.

Modules, one concern each: ``settings`` (profile options), ``connection`` (the
client and the one request helper), ``errors`` (failure translation), ``keys``
(paths and entries), ``listing``, ``reading``, ``parts`` (part sizes, buffers,
zero-copy bodies), ``multipart`` (the part-level API), ``upload`` (write),
``copying`` (server-side copies), ``endpoints`` (endpoint resolution cached by
bucket), ``backend``; ``http_stack`` imports aiohttp first (see there why).
"""

from . import http_stack  # noqa: F401  # first: it imports aiohttp (see there why)
from .backend import DELETE_BATCH, S3Backend
from .connection import S3Connection, S3Stats
from .keys import S3Location
from .multipart import MultipartSession, PendingUpload, UploadedPart
from .parts import (
    DEFAULT_PART_SIZE,
    DEFAULT_THRESHOLD,
    MAX_OBJECT_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    PartPlan,
    ProgressCallback,
    plan_part_size,
)
from .settings import S3Settings

__all__ = [
    "DEFAULT_PART_SIZE",
    "DEFAULT_THRESHOLD",
    "DELETE_BATCH",
    "MAX_OBJECT_SIZE",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MIN_PART_SIZE",
    "MultipartSession",
    "PartPlan",
    "PendingUpload",
    "ProgressCallback",
    "S3Backend",
    "S3Connection",
    "S3Location",
    "S3Settings",
    "S3Stats",
    "UploadedPart",
    "plan_part_size",
]
