"""A signed S3 request (ListBuckets) as the readiness probe of an S3 server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.servers._process import NotReady

__all__ = ["s3_client", "s3_probe"]


def s3_client(endpoint_url: str, access_key: str, secret_key: str, region: str) -> Any:
    """A synchronous botocore S3 client: path style, one attempt, short timeouts."""
    import botocore.config
    import botocore.session

    session = botocore.session.Session()
    config = botocore.config.Config(
        s3={"addressing_style": "path"},
        retries={"total_max_attempts": 1},
        connect_timeout=2,
        read_timeout=10,
        response_checksum_validation="when_required",
        request_checksum_calculation="when_required",
    )
    return session.create_client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        config=config,
    )


def s3_probe(
    endpoint_url: str, access_key: str, secret_key: str, region: str
) -> Callable[[], None]:
    """A probe that passes once ListBuckets, signed with these keys, succeeds.

    Connection errors and 5xx answers mean "not yet"; any other error (such as
    the server refusing the keys) fails the start at once.
    """
    import botocore.exceptions

    client: Any = None

    def probe() -> None:
        nonlocal client
        if client is None:
            client = s3_client(endpoint_url, access_key, secret_key, region)
        try:
            client.list_buckets()
        except (
            botocore.exceptions.EndpointConnectionError,
            botocore.exceptions.ConnectionClosedError,
            botocore.exceptions.ReadTimeoutError,
            botocore.exceptions.ConnectTimeoutError,
        ) as exc:
            raise NotReady(str(exc)) from exc
        except botocore.exceptions.ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if int(status) >= 500:
                raise NotReady(str(exc)) from exc
            raise

    return probe
