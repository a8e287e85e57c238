"""How to reach an SMB server, read from a Profile (the password is never kept here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ...errors import OrbitError

if TYPE_CHECKING:
    from ...profiles import Profile

__all__ = [
    "DEFAULT_CHUNK",
    "DEFAULT_PORT",
    "DEFAULT_REQUESTS",
    "DEFAULT_WRITE_CHUNK",
    "Encryption",
    "Signing",
    "SmbSettings",
]

DEFAULT_PORT = 445
DEFAULT_CHUNK = 2 * 1024 * 1024
"""Bytes per READ request (capped by what the server negotiated)."""
DEFAULT_WRITE_CHUNK = 8 * 1024 * 1024
"""Bytes per WRITE request (capped likewise; Samba allows 8 MiB): a write sends the
caller's buffer as it is, so a larger one costs no memory, only fewer requests
(a fifth less client CPU than 2 MiB in an A/B of 1 GiB uploads)."""
DEFAULT_REQUESTS = 4
"""READ/WRITE requests in flight per transfer (memory: about requests x chunk)."""

Encryption = Literal["required", "preferred", "auto"]
Signing = Literal["required", "auto"]


def _option(options: Mapping[str, Any], key: str, default: Any, kind: type) -> Any:
    value = options.get(key)
    if value is None:
        return default
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise OrbitError(f"the SMB option {key}={value!r} is not a valid {kind.__name__}") from None


def _encryption(value: Any) -> Encryption:
    if value is True or value in ("required", "require", "yes", "on", "true"):
        return "required"
    if value in ("preferred", "desired", "prefer"):
        return "preferred"
    if value in (None, False, "", "auto", "default", "if_required", "off", "no", "false"):
        return "auto"
    raise OrbitError(f"the SMB option encrypt={value!r} must be required, preferred or auto")


def _signing(value: Any) -> Signing:
    if value is True or value in ("required", "require", "yes", "on", "true", "mandatory"):
        return "required"
    if value in (None, False, "", "auto", "default", "desired", "if_required", "off", "no",
                 "false", "disabled"):
        return "auto"
    raise OrbitError(f"the SMB option signing={value!r} must be required or auto")


@dataclass(frozen=True)
class SmbSettings:
    """Everything needed to connect except the password.

    Profile options: ``share`` (or a list ``shares``: what ``/`` shows when the
    server does not list its shares), ``domain``, ``encrypt`` ("required":
    every message encrypted, fail where the server cannot; "preferred":
    encrypt when the server can; "auto", the default: as each share demands),
    ``signing`` ("required": every message signed; "auto", the default: as the
    server demands, like Windows and Samba's smbclient), ``connect_timeout``,
    ``request_timeout`` (seconds a read, write or listing page may take),
    ``chunk_size`` (bytes per READ, and per WRITE unless ``write_chunk_size``
    says otherwise), ``write_chunk_size``, ``requests`` (in flight per
    transfer), ``threads`` (worker threads for the blocking SMB client),
    ``auth`` ("negotiate", "ntlm" or "kerberos").
    """

    host: str
    port: int = DEFAULT_PORT
    user: str = ""
    domain: str = ""
    shares: tuple[str, ...] = ()
    encrypt: Encryption = "auto"
    signing: Signing = "auto"
    connect_timeout: float = 20.0
    request_timeout: float = 300.0
    chunk_size: int = DEFAULT_CHUNK
    write_chunk_size: int = DEFAULT_WRITE_CHUNK
    requests: int = DEFAULT_REQUESTS
    threads: int = 8
    auth: Literal["negotiate", "ntlm", "kerberos"] = "negotiate"

    @classmethod
    def from_profile(cls, profile: Profile) -> SmbSettings:
        if not profile.host:
            raise OrbitError(f"the SMB connection {profile.name!r} has no host")
        opts = profile.options
        shares: list[str] = []
        raw_shares = opts.get("shares") or ()
        if isinstance(raw_shares, str):
            raw_shares = [raw_shares]
        for share in [opts.get("share"), *raw_shares]:
            if share and str(share).strip("/\\") not in shares:
                shares.append(str(share).strip("/\\"))
        root_share = profile.root.strip("/").split("/", 1)[0]
        if root_share and root_share not in shares:
            shares.append(root_share)
        auth = str(opts.get("auth") or "negotiate").lower()
        if auth not in ("negotiate", "ntlm", "kerberos"):
            raise OrbitError(f"the SMB option auth={auth!r} must be negotiate, ntlm or kerberos")
        return cls(
            host=profile.host,
            port=profile.port or DEFAULT_PORT,
            user=profile.user,
            domain=str(opts.get("domain") or ""),
            shares=tuple(shares),
            encrypt=_encryption(opts.get("encrypt")),
            signing=_signing(opts.get("signing")),
            connect_timeout=_option(opts, "connect_timeout", 20.0, float),
            request_timeout=_option(opts, "request_timeout", 300.0, float),
            chunk_size=max(64 * 1024, _option(opts, "chunk_size", DEFAULT_CHUNK, int)),
            write_chunk_size=max(64 * 1024, _option(
                opts, "write_chunk_size", _option(opts, "chunk_size", DEFAULT_WRITE_CHUNK, int),
                int)),
            requests=max(1, _option(opts, "requests", DEFAULT_REQUESTS, int)),
            threads=max(2, _option(opts, "threads", 8, int)),
            auth=auth,  # type: ignore[arg-type]
        )

    @property
    def where(self) -> str:
        """``host:port``, as messages name the server."""
        return f"{self.host}:{self.port}"

    @property
    def login(self) -> str:
        """The user name as sent to the server (``DOMAIN\\user`` with a domain)."""
        return f"{self.domain}\\{self.user}" if self.domain and self.user else self.user
