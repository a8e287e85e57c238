"""S3 backend pieces that need no server: part sizing, bodies, settings, error mapping,
range planning."""

from __future__ import annotations

import math
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from orbit_gui.engine import (
    AlreadyExists,
    AuthenticationFailed,
    BytesReader,
    ConnectionFailed,
    DirectoryNotEmpty,
    IntegrityError,
    InvalidPath,
    NotFound,
    OrbitError,
    PermissionDenied,
    Profile,
    ServerError,
    SourceChanged,
    Throttled,
    Timeout,
    Unsupported,
)
from orbit_gui.engine.backends.s3 import (
    MAX_OBJECT_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    PartPlan,
    S3Settings,
    plan_part_size,
)
from orbit_gui.engine.backends.s3.endpoints import unread_parameters
from orbit_gui.engine.backends.s3.errors import RangeNotSatisfiable, translate
from orbit_gui.engine.backends.s3.keys import is_canonical_key, split, unquote_etag
from orbit_gui.engine.backends.s3.parts import BODY_CHUNK, BufferPool, PartBody, fill
from orbit_gui.engine.backends.s3.reading import _plan, parse_content_range
from orbit_gui.engine.backends.s3.settings import parse_size
from orbit_gui.engine.profiles import BACKEND_KINDS, backend_class

MiB = 1024 * 1024
GiB = 1024 * MiB
TiB = 1024 * GiB


# -- part sizes ----------------------------------------------------------------------------


def test_part_size_is_kept_when_it_fits() -> None:
    assert plan_part_size(64 * MiB, 8 * MiB) == 8 * MiB
    assert plan_part_size(None, 8 * MiB) == 8 * MiB
    assert plan_part_size(10, 1) == MIN_PART_SIZE  # never below S3's minimum


def test_part_size_scales_for_a_declared_100_gib() -> None:
    part = plan_part_size(100 * GiB, 5 * MiB)
    assert part == 11 * MiB  # 100 GiB / 10,000 = 10.24 MiB, rounded up to whole MiB
    assert math.ceil(100 * GiB / part) <= MAX_PARTS


def test_part_size_scales_for_5_tib() -> None:
    part = plan_part_size(5 * TiB, 8 * MiB)
    assert part % MiB == 0
    assert math.ceil(5 * TiB / part) <= MAX_PARTS
    assert part == 525 * MiB


def test_part_size_refuses_objects_s3_cannot_hold() -> None:
    with pytest.raises(ValueError):
        plan_part_size(MAX_OBJECT_SIZE + 1)


def test_unknown_size_plan_grows_so_10000_parts_reach_5_tib() -> None:
    plan = PartPlan.for_size(None, 5 * MiB)
    assert plan.size_of(1) == plan.size_of(1000) == 5 * MiB
    assert plan.size_of(1001) == 10 * MiB
    assert plan.capacity() >= 4.8 * TiB
    assert PartPlan.for_size(None, 8 * MiB).capacity() >= MAX_OBJECT_SIZE
    with pytest.raises(ValueError):
        plan.size_of(MAX_PARTS + 1)


def test_known_size_plan_has_equal_parts() -> None:
    plan = PartPlan.for_size(64 * MiB, 8 * MiB)
    assert {plan.size_of(n) for n in (1, 5, 8)} == {8 * MiB}


# -- bodies and buffers --------------------------------------------------------------------


async def test_part_body_streams_slices_and_reports_progress_once() -> None:
    data = bytearray(range(256)) * 4096  # 1 MiB
    reported: list[int] = []
    body = PartBody(memoryview(data), reported.append)
    assert len(body) == len(data)
    # botocore hashes it through read()/seek() ...
    assert bytes(body.read(10)) == bytes(data[:10])
    assert body.tell() == 10
    body.seek(0, 2)
    assert body.tell() == len(data)
    body.seek(0)
    # ... aiohttp sends it through async iteration, twice on a retry.
    first = [bytes(c) async for c in body]
    again = [bytes(c) async for c in body]
    assert b"".join(first) == b"".join(again) == bytes(data)
    assert max(len(c) for c in first) == BODY_CHUNK
    assert sum(reported) == len(data), "a resend must not count twice"


async def test_fill_reads_in_bounded_steps_and_reports_the_end() -> None:
    class Counting(BytesReader):
        def __init__(self, data: bytes) -> None:
            super().__init__(data)
            self.asks: list[int] = []

        async def read(self, n: int = -1) -> bytes:
            self.asks.append(n)
            return await super().read(n)

    reader = Counting(b"x" * (3 * MiB + 5))
    reader.readinto = None  # type: ignore[assignment,method-assign]
    buffer = memoryview(bytearray(4 * MiB))
    assert await fill(reader, buffer) == 3 * MiB + 5
    assert max(reader.asks) <= MiB


def test_buffer_pool_reuses_buffers() -> None:
    pool = BufferPool()
    a = pool.take(100)
    pool.give(a)
    assert pool.take(50) is a
    pool.give(a)
    b = pool.take(200)  # too small ones are dropped
    assert b is not a and pool.allocated == 2


# -- settings ------------------------------------------------------------------------------


def test_sizes_parse() -> None:
    assert parse_size("8MiB", "x") == 8 * MiB
    assert parse_size("512k", "x") == 512 * 1024
    assert parse_size(123, "x") == 123
    with pytest.raises(OrbitError):
        parse_size("lots", "x")


def test_settings_from_options_and_the_secret_stays_out_of_repr() -> None:
    settings = S3Settings.from_options(
        {"endpoint_url": "http://127.0.0.1:9000", "access_key": "AK", "part_size": "16MiB",
         "concurrency": 8, "verify_tls": "false"}, "TOPSECRET")
    assert settings.part_size == 16 * MiB and settings.parallel_operations == 8
    assert settings.path_style is True  # custom endpoints default to path style
    assert settings.verify_tls is False
    assert settings.max_pool_connections >= 8
    assert "TOPSECRET" not in repr(settings)
    assert settings.endpoint_label == "127.0.0.1:9000"
    aws = S3Settings.from_options({}, None)
    assert aws.endpoint_url is None and aws.path_style is None


def test_settings_refuse_bad_values() -> None:
    for options in ({"part_size": "1MiB"}, {"parallel_operations": 0},
                    {"endpoint_url": "ftp://host"}, {"directory_markers": "maybe"}):
        with pytest.raises(OrbitError):
            S3Settings.from_options(options, None)


def test_host_makes_an_https_endpoint() -> None:
    settings = S3Settings.from_options({}, None, host="s3.example.com", port=9443, user="AK")
    assert settings.endpoint_url == "https://s3.example.com:9443"
    assert settings.access_key == "AK"


def test_s3_kind_is_registered() -> None:
    assert "s3" in BACKEND_KINDS
    from orbit_gui.engine.backends.s3 import S3Backend

    assert backend_class(Profile(name="x", kind="s3").kind) is S3Backend


# -- paths ---------------------------------------------------------------------------------


def test_paths_split_into_bucket_and_key() -> None:
    assert split("/").bucket == ""
    assert split("/b").key == "" and split("/b").bucket == "b"
    loc = split("/b/dir/file.txt")
    assert (loc.bucket, loc.key, loc.prefix, loc.name) == ("b", "dir/file.txt",
                                                           "dir/file.txt/", "file.txt")
    assert loc.parent.key == "dir"
    with pytest.raises(InvalidPath):
        split("/b/../etc")
    with pytest.raises(InvalidPath):
        split("/b/a\x00b")
    with pytest.raises(InvalidPath):
        split("/b/" + "k" * 1025)


def test_only_canonical_keys_are_listed() -> None:
    assert is_canonical_key("a/b.txt") and is_canonical_key("a/")
    assert not is_canonical_key("a//b") and not is_canonical_key("./a")
    assert not is_canonical_key("a/../b")
    assert unquote_etag('"abc-3"') == "abc-3" and unquote_etag('W/"x"') == "x"


# -- error mapping -------------------------------------------------------------------------


def client_error(code: str, status: int, message: str = "msg") -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message},
                     "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "Op")


@pytest.mark.parametrize(("code", "status", "kind"), [
    ("NoSuchBucket", 404, NotFound),
    ("NoSuchKey", 404, NotFound),
    ("404", 404, NotFound),
    ("AccessDenied", 403, PermissionDenied),
    ("InvalidAccessKeyId", 403, AuthenticationFailed),
    ("SignatureDoesNotMatch", 403, AuthenticationFailed),
    ("BucketAlreadyOwnedByYou", 409, AlreadyExists),
    ("BucketAlreadyExists", 409, AlreadyExists),
    ("BucketNotEmpty", 409, DirectoryNotEmpty),
    ("SlowDown", 503, Throttled),
    ("503", 503, Throttled),
    ("InternalError", 500, ServerError),
    ("RequestTimeout", 400, Timeout),
    ("InvalidBucketName", 400, InvalidPath),
    ("NotImplemented", 501, Unsupported),
    ("InvalidRange", 416, RangeNotSatisfiable),
    ("Weird", 502, ServerError),
])
def test_client_errors_map_to_the_engine_tree(code: str, status: int,
                                               kind: type[OrbitError]) -> None:
    error = translate(client_error(code, status), endpoint="s3.test", path="/b/k", bucket="b")
    assert type(error) is kind
    assert error is not None
    retriable = kind in (Throttled, ServerError, Timeout)
    assert error.retriable is retriable


def test_missing_bucket_message_names_the_bucket() -> None:
    error = translate(client_error("NoSuchBucket", 404), endpoint="s3.test", path="/photos/x",
                      bucket="photos")
    assert error is not None and "photos" in str(error)


def test_auth_message_says_what_to_check_and_has_no_secret() -> None:
    error = translate(client_error("SignatureDoesNotMatch", 403, "sig for SECRETKEY"),
                      endpoint="minio.local:9000")
    assert isinstance(error, AuthenticationFailed)
    assert "check the access key and secret for minio.local:9000" in str(error)
    assert "SECRETKEY" not in str(error)


def test_precondition_failures_mean_what_the_caller_says() -> None:
    failed = client_error("PreconditionFailed", 412)
    assert isinstance(translate(failed, endpoint="e", precondition=SourceChanged),
                      SourceChanged)
    assert isinstance(translate(failed, endpoint="e", precondition=AlreadyExists),
                      AlreadyExists)


def test_transport_failures_are_retriable_connection_errors() -> None:
    refused = translate(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
                        endpoint="127.0.0.1:1")
    assert isinstance(refused, ConnectionFailed) and refused.retriable
    assert "127.0.0.1:1" in str(refused)
    slow = translate(ConnectTimeoutError(endpoint_url="http://x"), endpoint="x")
    assert isinstance(slow, ConnectionFailed)
    read = translate(ReadTimeoutError(endpoint_url="http://x"), endpoint="x")
    assert isinstance(read, Timeout) and read.retriable
    assert isinstance(translate(NoCredentialsError(), endpoint="x"), AuthenticationFailed)
    assert translate(TypeError("bug"), endpoint="x") is None


# -- range answers -------------------------------------------------------------------------


def answer(status: int, content_range: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"ResponseMetadata": {"HTTPStatusCode": status}}
    if content_range:
        result["ContentRange"] = content_range
    return result


def test_content_range_parses() -> None:
    assert parse_content_range("bytes 10-19/100") == (10, 19, 100)
    assert parse_content_range("bytes 0-0/*") == (0, 0, None)
    assert parse_content_range("junk") is None


def test_range_answers_are_planned_right() -> None:
    loc = split("/b/k")
    # 206 as asked.
    assert _plan(loc, answer(206, "bytes 100-199/1000"), 100, 100, True) == (0, 100)
    # 200 carrying exactly the range (rclone serve s3).
    assert _plan(loc, answer(200, "bytes 100-199/1000"), 100, 100, True) == (0, 100)
    # 200 with the whole object and no Content-Range: skip to the offset, keep the length.
    assert _plan(loc, answer(200), 100, 100, True) == (100, 100)
    # 200 with the whole object and its Content-Range.
    assert _plan(loc, answer(200, "bytes 0-999/1000"), 100, 100, True) == (100, 100)
    # A range that starts later than asked is refused.
    with pytest.raises(IntegrityError):
        _plan(loc, answer(206, "bytes 150-199/1000"), 100, 100, True)
    # One that stops short of what exists is refused too.
    with pytest.raises(IntegrityError):
        _plan(loc, answer(206, "bytes 100-149/1000"), 100, 100, True)
    # Asking past the end gets what there is.
    assert _plan(loc, answer(206, "bytes 990-999/1000"), 990, 100, True) == (0, 100)


async def test_an_unknown_aws_profile_is_an_authentication_failure() -> None:
    from orbit_gui.engine.backends.s3 import S3Backend

    profile = Profile(name="p", kind="s3", options={
        "endpoint_url": "http://127.0.0.1:9", "profile_name": "orbit-no-such-profile"})
    with pytest.raises(AuthenticationFailed) as raised:
        await S3Backend.from_profile(profile)
    assert "orbit-no-such-profile" in str(raised.value)


def test_ruleset_parameters_no_rule_reads_are_found() -> None:
    ruleset = {
        "parameters": {"Bucket": {}, "Region": {}, "Key": {}, "Endpoint": {}},
        "rules": [{"conditions": [{"fn": "isSet", "argv": [{"ref": "Endpoint"}]}],
                   "type": "tree",
                   "rules": [{"conditions": [], "type": "endpoint",
                              "endpoint": {"url": "{Endpoint}",
                                           "properties": {"r": {"ref": "Region"}}}}]},
                  {"conditions": [{"fn": "aws.parseArn", "argv": [{"ref": "Bucket"}],
                                   "assign": "arn"}], "type": "error", "error": "no"}],
    }
    assert unread_parameters(ruleset) == {"Key"}
    assert unread_parameters({"parameters": {"Key": {}}, "rules": [
        {"conditions": [{"fn": "isSet", "argv": [{"ref": "Key"}]}]}]}) == frozenset()
    assert unread_parameters({"parameters": {"Key": {}, "Bucket": {}}, "rules": [
        {"type": "endpoint", "endpoint": {"url": "https://{Bucket}.example/{Key#x}"}}]}
        ) == frozenset()
