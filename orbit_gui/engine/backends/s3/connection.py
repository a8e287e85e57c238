"""The aiobotocore client of one S3 backend, and the one place requests are made.

The client is an async context manager kept open for the backend's life (an
AsyncExitStack closed by :meth:`S3Connection.aclose`). Every request goes
through :meth:`S3Connection.call`, which counts it and translates failures.
"""

from __future__ import annotations

import logging
import os
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore import UNSIGNED

from ...backend import BackendStats
from ...errors import AuthenticationFailed, OrbitError, PermissionDenied
from .endpoints import resolve_once_per_bucket
from .errors import error_code, translate
from .responses import tune_session
from .settings import S3Settings

__all__ = ["S3Connection", "S3Stats"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class S3Stats(BackendStats):
    """Request counters of an S3 backend (tests and benchmarks read them)."""

    single_puts: int = 0
    multipart_uploads: int = 0
    parts_uploaded: int = 0
    parts_copied: int = 0
    delete_batches: int = 0
    objects_copied: int = 0


_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


def _plain_http(endpoint_url: str | None) -> bool:
    """Whether requests go to a plain-HTTP endpoint with no proxy (which might speak
    TLS) in the way: then no TLS connection is ever made."""
    if endpoint_url is None or not endpoint_url.strip().lower().startswith("http://"):
        return False
    return not any(os.environ.get(name) or os.environ.get(name.upper())
                   for name in _PROXY_VARIABLES)


def _session(settings: S3Settings) -> AioSession:
    """An aiobotocore session with the profile's credentials, reading answers the
    cheap way (see ``responses``). No boto3 session around it: importing boto3 and
    aioboto3 cost ~0.1 s of start-up for nothing this backend uses."""
    session = AioSession()
    if settings.profile_name is not None:
        session.set_config_variable("profile", settings.profile_name)
    if settings.access_key and settings.secret_key:
        session.set_credentials(settings.access_key, settings.secret_key)
    if settings.region is not None:
        session.set_config_variable("region", settings.region)
    tune_session(session)
    return session


class S3Connection:
    """An open S3 client plus what every request needs to report failures."""

    def __init__(self, settings: S3Settings, client: Any, stack: AsyncExitStack,
                 region: str, stats: S3Stats) -> None:
        self.settings = settings
        self.client = client
        """The aiobotocore S3 client (tests register botocore event hooks on it)."""
        self.region = region
        self.stats = stats
        self.endpoint = settings.endpoint_label
        self.if_none_match = True
        """Whether the server takes ``If-None-Match: *`` on writes (cleared when refused)."""
        self._stack = stack
        self._closed = False

    @classmethod
    async def open(cls, settings: S3Settings, stats: S3Stats | None = None) -> S3Connection:
        endpoint = settings.endpoint_label
        stack = AsyncExitStack()
        try:
            session = _session(settings)
            region = settings.region or session.get_config_variable("region") or "us-east-1"
            config = AioConfig(
                region_name=region,
                signature_version=UNSIGNED if settings.anonymous else "s3v4",
                s3={"addressing_style": {True: "path", False: "virtual"}.get(
                    settings.path_style, "auto")},  # type: ignore[arg-type]
                retries={"total_max_attempts": settings.max_attempts, "mode": "standard"},
                connect_timeout=settings.connect_timeout,
                read_timeout=settings.read_timeout,
                max_pool_connections=settings.max_pool_connections,
                tcp_keepalive=True,
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                user_agent_extra="orbit-gui",
            )
            verify: bool | str | None = None
            if not settings.verify_tls or _plain_http(settings.endpoint_url):
                # A plain-HTTP endpoint without a proxy makes no TLS connection (and
                # a redirect from it proves nothing, it could come from anyone on the
                # path): skip loading the CA bundle into an SSL context nobody uses
                # (50-100 ms of CPU for every backend opened).
                verify = False
            elif settings.ca_bundle:
                verify = settings.ca_bundle
            client = await stack.enter_async_context(session.create_client(
                "s3", endpoint_url=settings.endpoint_url, config=config, verify=verify))
            resolve_once_per_bucket(client, session.get_component("data_loader"))
        except BaseException as exc:
            await stack.aclose()
            if isinstance(exc, Exception):
                mapped = translate(exc, endpoint=endpoint)
                if mapped is not None:
                    raise mapped from exc
            raise
        if settings.access_key and not settings.secret_key:
            log.info("S3 %s: access key %s has no secret; using the AWS credential chain",
                     endpoint, settings.access_key)
        return cls(settings, client, stack, region, stats or S3Stats())

    async def call(self, operation: str, *, path: str | None = None, bucket: str | None = None,
                   precondition: type[OrbitError] | None = None, **params: Any) -> Any:
        """Make one request (``operation`` is the client's method name, such as
        ``"head_object"``); failures come out as engine errors naming ``path``."""
        method = getattr(self.client, operation)
        self.stats.requests += 1
        try:
            return await method(**params)
        except Exception as exc:
            bucket = bucket or params.get("Bucket")
            mapped = self.translate(exc, path=path, bucket=bucket, precondition=precondition)
            if mapped is None:
                raise
            if isinstance(mapped, PermissionDenied) and error_code(exc) == "403" and bucket:
                mapped = await self._explain_forbidden(bucket, mapped)
            raise mapped from exc

    async def _explain_forbidden(self, bucket: str, denied: OrbitError) -> OrbitError:
        """A HEAD answer has no body, so a 403 cannot tell wrong credentials from a
        refusal: ask a request that does say (ListObjectsV2) which one it was."""
        self.stats.requests += 1
        try:
            await self.client.list_objects_v2(Bucket=bucket, MaxKeys=1)
        except Exception as exc:
            explained = self.translate(exc, bucket=bucket)
            if isinstance(explained, AuthenticationFailed):
                return explained
        return denied

    def translate(self, exc: BaseException, *, path: str | None = None,
                  bucket: str | None = None,
                  precondition: type[OrbitError] | None = None) -> OrbitError | None:
        return translate(exc, endpoint=self.endpoint, path=path, bucket=bucket,
                         precondition=precondition)

    async def presign(self, operation: str, params: dict[str, Any], expires_in: int) -> str:
        url: str = await self.client.generate_presigned_url(
            operation, Params=params, ExpiresIn=expires_in)
        return url

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._stack.aclose()
