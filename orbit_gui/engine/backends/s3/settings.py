"""Connection settings of an S3 backend, read from a Profile's ``options``.

Options (all optional; sizes take an int or a string such as ``"8MiB"``):

- ``endpoint_url``: an S3-compatible store (MinIO, R2, Wasabi, Ceph...). Without it,
  ``https://HOST[:PORT]`` when the profile has a host, else AWS itself.
- ``region``: signing region and where new buckets go (default: the AWS
  configuration's, else ``us-east-1``).
- ``path_style``: ``True`` for ``https://host/bucket/key`` addressing, ``False``
  for virtual hosts (``https://bucket.host/key``). Default: path style with a
  custom endpoint, automatic on AWS.
- ``access_key`` (or the profile's ``user``): the access key id; its secret
  arrives as ``secret`` (from the keyring), never from the options. Without an
  access key the standard AWS chain is used: ``AWS_ACCESS_KEY_ID`` /
  ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN`` in the environment, then
  ``~/.aws/credentials`` and ``~/.aws/config`` (``profile_name`` picks a
  profile there; SSO, assume-role and ``credential_process`` work). That chain
  is also how temporary credentials (a session token) are given: they are never
  written to the Orbit profile.
- ``profile_name``: the AWS shared-config profile for the chain.
- ``anonymous``: unsigned requests (public buckets).
- ``verify_tls`` (default True) and ``ca_bundle`` (a PEM file) for TLS.
- ``parallel_operations`` (alias ``concurrency``, default 4): parts in flight per
  upload, objects copied at once.
- ``part_size`` (default 5 MiB) and ``multipart_threshold`` (default 5 MiB).
- ``directory_markers`` (default True): mkdir stores a zero-byte ``dir/`` object.
  Turn off for stores that cannot hold them (``rclone serve s3`` turns ``dir/``
  into a file named ``dir``); empty folders then cannot exist.
- ``copy_threshold`` (default 5 GiB, the CopyObject limit) and ``copy_part_size``
  (default 256 MiB): server-side copies above the threshold use UploadPartCopy.
- ``connect_timeout`` (10 s), ``read_timeout`` (60 s), ``max_attempts`` (2: the
  engine has its own retry policy, botocore only retries once).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ...errors import OrbitError
from .parts import (
    DEFAULT_PART_SIZE,
    DEFAULT_THRESHOLD,
    MAX_COPY_SIZE,
    MAX_PART_SIZE,
    MIN_PART_SIZE,
)

__all__ = ["DEFAULT_COPY_PART_SIZE", "DEFAULT_PARALLEL", "S3Settings", "parse_size"]

DEFAULT_PARALLEL = 4
DEFAULT_COPY_PART_SIZE = 256 * 1024 * 1024

_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(value: object, name: str) -> int:
    """An option's byte count: an int, or a string such as ``"8MiB"``, ``"512k"``."""
    if isinstance(value, bool):
        raise OrbitError(f"the S3 option {name} must be a size, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and (match := _SIZE.match(value)):
        return int(match.group(1)) * _UNITS[match.group(2).lower()]
    raise OrbitError(f"the S3 option {name} must be a size such as 8MiB, not {value!r}")


def _flag(options: Mapping[str, Any], name: str, default: bool | None) -> bool | None:
    value = options.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise OrbitError(f"the S3 option {name} must be true or false, not {value!r}")


def _number(options: Mapping[str, Any], name: str, default: float) -> float:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise OrbitError(f"the S3 option {name} must be a positive number, not {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class S3Settings:
    """Everything needed to open an S3 client; ``secret_key`` is never shown."""

    endpoint_url: str | None = None
    region: str | None = None
    path_style: bool | None = None
    access_key: str | None = None
    secret_key: str | None = None
    profile_name: str | None = None
    anonymous: bool = False
    verify_tls: bool = True
    ca_bundle: str | None = None
    parallel_operations: int = DEFAULT_PARALLEL
    part_size: int = DEFAULT_PART_SIZE
    multipart_threshold: int = DEFAULT_THRESHOLD
    directory_markers: bool = True
    copy_threshold: int = MAX_COPY_SIZE
    copy_part_size: int = DEFAULT_COPY_PART_SIZE
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 2

    def __repr__(self) -> str:  # the secret must not reach logs through a repr
        secret = "***" if self.secret_key else None
        return (f"S3Settings(endpoint_url={self.endpoint_url!r}, region={self.region!r}, "
                f"access_key={self.access_key!r}, secret_key={secret!r}, "
                f"profile_name={self.profile_name!r})")

    @classmethod
    def from_options(cls, options: Mapping[str, Any], secret: str | None = None, *,
                     host: str = "", port: int | None = None, user: str = "") -> S3Settings:
        """Read and check the options (see the module docstring)."""
        endpoint = options.get("endpoint_url") or None
        if endpoint is None and host:
            endpoint = f"https://{host}:{port}" if port else f"https://{host}"
        if endpoint is not None:
            parts = urlsplit(str(endpoint))
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise OrbitError(f"the S3 endpoint {endpoint!r} is not an http(s) URL")
        parallel = int(options.get("parallel_operations", options.get("concurrency",
                                                                      DEFAULT_PARALLEL)))
        if not 1 <= parallel <= 64:
            raise OrbitError(f"parallel_operations must be between 1 and 64, not {parallel}")
        part_size = parse_size(options.get("part_size", DEFAULT_PART_SIZE), "part_size")
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise OrbitError(f"part_size must be between 5 MiB and 5 GiB, not {part_size}")
        threshold = parse_size(options.get("multipart_threshold", DEFAULT_THRESHOLD),
                               "multipart_threshold")
        if threshold < 1:
            raise OrbitError("multipart_threshold must be positive")
        copy_threshold = parse_size(options.get("copy_threshold", MAX_COPY_SIZE),
                                    "copy_threshold")
        copy_part = parse_size(options.get("copy_part_size", DEFAULT_COPY_PART_SIZE),
                               "copy_part_size")
        if not MIN_PART_SIZE <= copy_part <= MAX_PART_SIZE:
            raise OrbitError("copy_part_size must be between 5 MiB and 5 GiB")
        if not 1 <= copy_threshold <= MAX_COPY_SIZE:
            raise OrbitError("copy_threshold must be between 1 byte and 5 GiB")
        attempts = int(options.get("max_attempts", 2))
        if attempts < 1:
            raise OrbitError("max_attempts must be at least 1")
        access_key = options.get("access_key") or user or None
        return cls(
            endpoint_url=str(endpoint) if endpoint else None,
            region=options.get("region") or None,
            path_style=_flag(options, "path_style", True if endpoint else None),
            access_key=str(access_key) if access_key else None,
            secret_key=secret,
            profile_name=options.get("profile_name") or None,
            anonymous=bool(_flag(options, "anonymous", False)),
            verify_tls=bool(_flag(options, "verify_tls", True)),
            ca_bundle=options.get("ca_bundle") or None,
            parallel_operations=parallel,
            part_size=part_size,
            multipart_threshold=threshold,
            directory_markers=bool(_flag(options, "directory_markers", True)),
            copy_threshold=copy_threshold,
            copy_part_size=copy_part,
            connect_timeout=_number(options, "connect_timeout", 10.0),
            read_timeout=_number(options, "read_timeout", 60.0),
            max_attempts=attempts,
        )

    @property
    def endpoint_label(self) -> str:
        """The store as messages name it: the endpoint's host, or AWS and its region."""
        if self.endpoint_url:
            parts = urlsplit(self.endpoint_url)
            return parts.netloc or self.endpoint_url
        return f"AWS S3 ({self.region or 'default region'})"

    @property
    def max_pool_connections(self) -> int:
        """Uploads, downloads and listings share the pool: room for all of them."""
        return max(10, 2 * self.parallel_operations + 2)
