"""How the S3 backend reads answers: timestamps without dateutil and the 200-error
check without a second parse give what botocore's own parsing gives, on both servers."""

from __future__ import annotations

import threading

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.utils import parse_timestamp

from orbit_gui.engine import Backend, BytesReader, Entry
from orbit_gui.engine.backends.s3.keys import object_entry
from orbit_gui.engine.backends.s3.responses import error_in_200, fast_timestamp
from tests.engine.s3_helpers import s3, store
from tests.servers.info import S3Server

__all__ = ["s3", "store"]  # fixtures used here


@pytest.mark.parametrize("text", [
    "2026-12-02T00:26:31.707Z",       # AWS and moto: milliseconds
    "2026-12-02T00:26:31Z",           # no fraction
    "2026-12-02T00:26:31.707123456Z",  # nanoseconds (MinIO, Ceph)
    "2026-12-02T00:26:31.1Z",
    "2026-12-02T00:26:31+00:00",
    "2026-12-02T00:26:31.5+02:00",
    "2026-12-02T00:26:31",            # no zone at all
    "2026-12-02T00:26:31.707z",       # lower-case z: not ISO for fromisoformat
    "Wed, 02 Dec 2026 00:26:31 GMT",  # Last-Modified header (HEAD)
    "1796171191",                     # epoch seconds
    "1796171191.25",
])
def test_fast_timestamp_gives_botocores_instant(text: str) -> None:
    assert fast_timestamp(text).timestamp() == parse_timestamp(text).timestamp()


LISTING = (b'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws'
           b'.com/doc/2006-03-01/"><Name>b</Name><Contents><Key>a</Key></Contents>'
           b'</ListBucketResult>\n')


@pytest.mark.parametrize(("body", "error"), [
    (LISTING, False),
    (b"<ListBucketResult/>", False),
    (b'<?xml version="1.0"?><!-- a note --><CopyObjectResult><ETag>x</ETag>'
     b"</CopyObjectResult>", False),
    (b"<Error><Code>InternalError</Code></Error>", True),
    # CompleteMultipartUpload and copies send spaces while they work, then the answer.
    (b'   \n  <?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code></Error>',
     True),
    (LISTING[:-60], True),  # cut short: botocore treats it as an error to retry
    (b"not xml", True),
])
def test_200_error_check_agrees_with_botocore(body: bytes, error: bool) -> None:
    from botocore.handlers import _looks_like_special_case_error

    assert error_in_200(body) is error
    assert _looks_like_special_case_error(200, body) is error


async def _stock_entries(server: S3Server, bucket: str, prefix: str) -> list[Entry]:
    """The same listing through a client with botocore's own parsers (dateutil)."""
    async with AioSession().create_client(
            "s3", endpoint_url=server.endpoint_url, region_name=server.region,
            aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
            config=AioConfig(s3={"addressing_style": "path"})) as client:
        page = await client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [object_entry(bucket, obj) for obj in page["Contents"]
            if not obj["Key"].endswith("/")]


async def test_listed_entries_are_what_botocores_parsers_give(
        s3: S3Server, store: tuple[Backend, str]) -> None:
    backend, root = store
    for n, size in enumerate((0, 1, 1000)):
        await backend.write(f"{root}/f{n}", BytesReader(b"x" * size), size)
    listed = [entry async for entry in backend.list(root)]
    bucket, _, key = root[1:].partition("/")
    expected = await _stock_entries(s3, bucket, f"{key}/" if key else "")
    assert len(listed) == 3
    assert sorted((e.path, e.size, e.mtime, e.etag) for e in listed) \
        == sorted((e.path, e.size, e.mtime, e.etag) for e in expected)


def _listing_page(keys: int) -> bytes:
    contents = "".join(
        f"<Contents><Key>dir/file{n:05d}.dat</Key><LastModified>2026-11-30T10:00:00.000Z"
        f"</LastModified><ETag>&quot;{n:032x}&quot;</ETag><Size>{n}</Size>"
        f"<StorageClass>STANDARD</StorageClass></Contents>" for n in range(keys))
    return (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns='
            f'"http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>dir/</Prefix>'
            f"<KeyCount>{keys}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false"
            f"</IsTruncated>{contents}</ListBucketResult>").encode()


@pytest.mark.parametrize("keys", [3, 1000])
async def test_big_answers_are_parsed_off_the_loop_and_alike(keys: int) -> None:
    from botocore.loaders import create_loader
    from botocore.model import ServiceModel
    from botocore.parsers import create_parser

    from orbit_gui.engine.backends.s3.responses import OFF_LOOP_BODY, ParserFactory

    shape = ServiceModel(create_loader().load_service_model("s3", "service-2")) \
        .operation_model("ListObjectsV2").output_shape
    body = _listing_page(keys)
    threads: list[threading.Thread] = []

    def stamp(value: str) -> object:
        threads.append(threading.current_thread())
        return fast_timestamp(value)

    factory = ParserFactory()
    factory.set_parser_defaults(timestamp_parser=stamp)
    response = {"status_code": 200, "headers": {}, "body": body, "context": {}}
    parsed = await factory.create_parser("rest-xml").parse(response, shape)
    stock = create_parser("rest-xml").parse(dict(response), shape)
    assert parsed["Contents"] == stock["Contents"] and len(parsed["Contents"]) == keys
    off_loop = len(body) >= OFF_LOOP_BODY
    assert off_loop == (keys == 1000)
    assert {thread is threading.current_thread() for thread in threads} == {not off_loop}
