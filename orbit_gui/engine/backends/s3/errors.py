"""botocore and aiohttp failures translated into the engine's error tree.

One function, :func:`translate`, used for every request (see
``connection.S3Connection.call``). Messages name the endpoint, bucket or path
and what to do; they carry the server's error code, never a credential.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from botocore import exceptions as bx

from ...errors import (
    AlreadyExists,
    AuthenticationFailed,
    ConnectionFailed,
    DirectoryNotEmpty,
    InvalidPath,
    NoSpace,
    NotFound,
    OrbitError,
    PermissionDenied,
    ServerError,
    Throttled,
    Timeout,
    Unsupported,
)

__all__ = ["RangeNotSatisfiable", "error_code", "translate"]


class RangeNotSatisfiable(OrbitError):
    """HTTP 416: the requested range starts at or past the end of the object."""


_NOT_FOUND = {"NoSuchKey", "NotFound", "404", "NoSuchVersion", "NoSuchUpload"}
_AUTH = {
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
    "TokenRefreshRequired", "InvalidClientTokenId", "InvalidSecurity", "401",
    "Unauthorized", "AccessKeyIdInvalid",
}
_DENIED = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled", "AccountProblem",
           "InvalidPayer", "MethodNotAllowed", "405"}
_EXISTS = {"BucketAlreadyOwnedByYou", "BucketAlreadyExists", "ConditionalRequestConflict"}
_THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
              "TooManyRequests", "RequestThrottled", "ServiceUnavailable", "503", "429",
              "BandwidthLimitExceeded", "TooManyBuckets_Throttled"}
_TIMEOUT = {"RequestTimeout", "RequestTimeoutException", "408", "504", "GatewayTimeout"}
_SERVER = {"InternalError", "InternalServerError", "500", "502", "BadGateway"}
_INVALID = {"InvalidBucketName", "KeyTooLongError", "InvalidObjectName", "InvalidURI"}
_UNSUPPORTED = {"NotImplemented", "Unimplemented", "501", "NotSupported",
                "XNotImplemented"}
_NO_SPACE = {"QuotaExceeded", "XMinioStorageFull", "StorageFull", "InsufficientStorage",
             "507"}


def error_code(exc: BaseException) -> str:
    """The S3 error code of a ClientError ("" for anything else)."""
    if isinstance(exc, bx.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _status(exc: bx.ClientError) -> int:
    meta: dict[str, Any] = exc.response.get("ResponseMetadata", {})
    return int(meta.get("HTTPStatusCode") or 0)


def translate(exc: BaseException, *, endpoint: str, path: str | None = None,
              bucket: str | None = None,
              precondition: type[OrbitError] | None = None) -> OrbitError | None:
    """The engine error for ``exc`` raised by a request, or None if it is not one
    of the S3 client's failures (a bug, which the caller lets through).

    ``path`` is the object or folder concerned ("/bucket/key"), ``bucket`` its
    bucket; ``precondition`` is what a 412 means for this request (SourceChanged
    for If-Match reads, AlreadyExists for If-None-Match writes).
    """
    where = path or (f"/{bucket}" if bucket else endpoint)
    if isinstance(exc, OrbitError):
        return exc
    if isinstance(exc, bx.ClientError):
        return _client_error(exc, endpoint=endpoint, where=where, bucket=bucket,
                             precondition=precondition)
    credentials_help = (
        "enter an access key and secret in the connection, or set up the AWS "
        "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) "
        "or an ~/.aws profile")
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return AuthenticationFailed(f"no usable credentials for {endpoint}: {credentials_help}",
                                    host=endpoint)
    if isinstance(exc, bx.ProfileNotFound):
        return AuthenticationFailed(f"{exc} (for {endpoint}); check profile_name", host=endpoint)
    if isinstance(exc, bx.CredentialRetrievalError | bx.TokenRetrievalError
                  | bx.NoAuthTokenError | bx.RefreshWithMFAUnsupportedError):
        return AuthenticationFailed(f"could not obtain credentials for {endpoint}: {exc}",
                                    host=endpoint)
    if isinstance(exc, bx.SSLError):
        return ConnectionFailed(
            f"the TLS certificate of {endpoint} could not be verified ({exc}); set the "
            "connection's CA bundle, or turn verification off only for a test server",
            host=endpoint, retriable=False)
    if isinstance(exc, bx.ConnectTimeoutError):
        return ConnectionFailed(f"could not connect to {endpoint}: the connection timed out",
                                host=endpoint)
    if isinstance(exc, bx.ReadTimeoutError | asyncio.TimeoutError):
        return Timeout(f"{endpoint} did not answer in time ({where})", host=endpoint, path=path)
    if isinstance(exc, bx.EndpointConnectionError | bx.ProxyConnectionError):
        return ConnectionFailed(f"could not connect to {endpoint}: check the endpoint URL "
                                "and the network", host=endpoint)
    if isinstance(exc, bx.ConnectionClosedError | bx.ResponseStreamingError
                  | bx.IncompleteReadError | bx.HTTPClientError | aiohttp.ClientError
                  | ConnectionError):
        return ConnectionFailed(f"the connection to {endpoint} broke ({where}): {exc}",
                                host=endpoint, path=path)
    if isinstance(exc, bx.ParamValidationError | bx.InvalidDNSNameError):
        return InvalidPath(f"{where} cannot be used on S3: {exc}", path=path)
    if isinstance(exc, bx.NoRegionError):
        return OrbitError(f"no region is set for {endpoint}: set the connection's region")
    return None


def _client_error(exc: bx.ClientError, *, endpoint: str, where: str, bucket: str | None,
                  precondition: type[OrbitError] | None) -> OrbitError:
    code = error_code(exc)
    status = _status(exc)
    message = str(exc.response.get("Error", {}).get("Message", "") or code)
    detail = f"{code}: {message}" if message and message != code else code
    path = where if where.startswith("/") else None
    if code == "NoSuchBucket":
        return NotFound(f"the bucket {bucket!r} does not exist on {endpoint}", path=path,
                        host=endpoint)
    if code == "NoSuchUpload":
        return NotFound(f"the multipart upload of {where} no longer exists; start it over",
                        path=path, host=endpoint)
    if code in ("InvalidRange", "416") or status == 416:
        return RangeNotSatisfiable(f"{where}: the range starts past the end", path=path)
    if code in ("PreconditionFailed", "412") or status == 412:
        kind = precondition or OrbitError
        if kind is AlreadyExists:
            return AlreadyExists(f"{where} already exists", path=path, host=endpoint)
        return kind(f"{where} changed since the transfer began; it must start over",
                    path=path, host=endpoint)
    if code in _AUTH or status == 401:
        return AuthenticationFailed(
            f"{endpoint} rejected the credentials ({code}): check the access key and "
            f"secret for {endpoint}", host=endpoint)
    if code in _NOT_FOUND or status == 404:
        return NotFound(f"{where} does not exist", path=path, host=endpoint)
    if code in _DENIED or status == 403:
        return PermissionDenied(f"{endpoint} refused access to {where} ({code})", path=path,
                                host=endpoint)
    if code in _EXISTS:
        return AlreadyExists(f"{where} already exists ({code})", path=path, host=endpoint)
    if code == "BucketNotEmpty":
        return DirectoryNotEmpty(f"the bucket {where} is not empty", path=path, host=endpoint)
    if code in _THROTTLED:
        return Throttled(f"{endpoint} asked us to slow down ({code})", path=path, host=endpoint)
    if code in _TIMEOUT:
        return Timeout(f"{endpoint} timed out on {where} ({code})", path=path, host=endpoint)
    if code in _SERVER:
        return ServerError(f"{endpoint} failed on its side ({detail})", path=path, host=endpoint)
    if code in _INVALID or (code == "InvalidArgument" and "name" in message.lower()):
        return InvalidPath(f"{where} cannot be used on {endpoint} ({detail})", path=path,
                           host=endpoint)
    if code in _UNSUPPORTED:
        return Unsupported(f"{endpoint} does not support this request ({detail})",
                           path=path, host=endpoint)
    if code in _NO_SPACE:
        return NoSpace(f"{endpoint} is out of space or quota ({detail})", path=path,
                       host=endpoint)
    if code == "RequestTimeTooSkewed":
        return OrbitError(f"this computer's clock differs too much from {endpoint}'s: set "
                          "the clock right", host=endpoint)
    if code == "InvalidObjectState":
        return PermissionDenied(f"{where} is archived ({detail}); restore it first",
                                path=path, host=endpoint)
    if status >= 500:
        return ServerError(f"{endpoint} failed on its side ({detail})", path=path, host=endpoint)
    return OrbitError(f"{endpoint} refused the request on {where} ({detail})", path=path,
                      host=endpoint)
