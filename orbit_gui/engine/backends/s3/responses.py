"""How botocore reads S3's answers here, made cheap enough for the event loop.

Parsing one 1,000-key ListObjectsV2 page took ~0.1 s of CPU on the loop, most of
it in two places this module replaces for our sessions only:

- every ``LastModified`` went through dateutil's generic parser (~half of the
  page); S3's ISO 8601 form is read by ``datetime.fromisoformat`` instead;
- botocore parsed each whole body a second time to see whether a 200 answer
  carries an ``<Error>`` (S3 does that for copies); the root element's name and
  a closed document tell the same without building the tree.

What is left of a big answer (a listing page: ~90 ms of XML walking) is parsed
in a worker thread, so the loop, the GUI's included, keeps turning meanwhile.
"""

from __future__ import annotations

import asyncio
import datetime
import re
from typing import Any

from aiobotocore.parsers import AioResponseParserFactory, AioRestXMLParser
from botocore import handlers
from botocore.session import Session
from botocore.utils import parse_timestamp

__all__ = ["OFF_LOOP_BODY", "ParserFactory", "error_in_200", "fast_timestamp",
           "tune_session"]

OFF_LOOP_BODY = 64 * 1024
"""Answers with a body at least this big are parsed in a worker thread (a 1,000-key
page is ~300 KB; the small answers of a transfer stay on the loop: no thread hop)."""


def fast_timestamp(value: Any) -> datetime.datetime:
    """botocore's timestamp parser, with ISO 8601 (S3's XML) read without dateutil.

    Anything else, such as HTTP dates in headers or epoch seconds, goes to
    botocore's own parser, so every answer gives the same instant as before.
    """
    try:
        return datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        parsed: datetime.datetime = parse_timestamp(value)
        return parsed


_ROOT = re.compile(rb"\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<([^\s/>!?]+)", re.DOTALL)


def error_in_200(body: bytes) -> bool:
    """Whether a 200 answer's body is an S3 error, as botocore decides it: the root
    element is ``Error``, or the body is not a whole XML document (cut short)."""
    match = _ROOT.match(body)
    if match is None:
        return True
    name = match.group(1)
    if name == b"Error":
        return True
    end = body.rstrip()
    if end.endswith(b"</" + name + b">"):
        return False
    # An empty root element, <Name .../>, is the only other whole document.
    return re.fullmatch(rb"[^>]*/>", end[match.end():]) is None


def _check_200_error(operation_model: Any, response_dict: Any, **kwargs: Any) -> None:
    """botocore's ``_handle_200_error``, without parsing the body a second time."""
    if handlers._should_handle_200_error(operation_model, response_dict) \
            and response_dict["status_code"] == 200 and response_dict["body"] \
            and error_in_200(response_dict["body"]):
        response_dict["status_code"] = 500  # retried, then raised, as botocore does


class _OffLoopXMLParser(AioRestXMLParser):  # type: ignore[misc]  # aiobotocore is untyped
    """S3's XML parser, run in a worker thread for big bodies (aiobotocore awaits
    what ``_do_parse`` returns; botocore makes one parser per answer)."""

    def _do_parse(self, response: dict[str, Any], shape: Any) -> Any:
        body = response.get("body")
        if isinstance(body, bytes) and len(body) >= OFF_LOOP_BODY:
            return asyncio.to_thread(super()._do_parse, response, shape)
        return super()._do_parse(response, shape)


class ParserFactory(AioResponseParserFactory):  # type: ignore[misc]
    """The response parsers our sessions use (S3's XML off the loop when big)."""

    def create_parser(self, protocol_name: str) -> Any:
        if protocol_name == "rest-xml":
            return _OffLoopXMLParser(**self._defaults)
        return super().create_parser(protocol_name)


def tune_session(session: Session) -> None:
    """Use this module's parsers and 200-error check in ``session``'s clients
    (created after this call)."""
    factory = ParserFactory()
    factory.set_parser_defaults(timestamp_parser=fast_timestamp)
    session.register_component("response_parser_factory", factory)
    events = session.get_component("event_emitter")
    events.unregister("before-parse.s3.*", handlers._handle_200_error)
    events.register_first("before-parse.s3.*", _check_200_error)
