"""Request bodies: the size limit for chunked bodies, and the one JSON reader of the API.

* A body sent with ``Content-Length`` over ``MAX_CONTENT_LENGTH`` is refused by werkzeug
  before it is read. A chunked body has no length: werkzeug reads it up to the limit and stops
  there silently (``LimitedStream.readall``), so a body one byte or 50 MB over the limit would
  be handled as if it ended at the limit. :func:`limit_chunked_body` reads it first, at most
  one byte past the limit, and answers 413 when that byte exists; a body whose chunked
  encoding is broken (a chunk size that is not hexadecimal, a chunk longer than the data
  sent, a body that ends before its last chunk) is a 400 ``invalid_chunked_body``.
* :func:`decode_json` reads JSON as RFC 8259 defines it, for the API and for adapters alike:
  anything ``json.loads`` refuses, nesting too deep, an integer of more digits than Python
  converts, and the non-numbers Python would otherwise take (``NaN``, ``Infinity``, ``1e999``)
  are :class:`InvalidJson`, never another exception.
* :func:`parse_json` is how every API endpoint reads JSON (the token URL, the API trigger and
  every schema-validated body, through :class:`OrqoParser`): invalid JSON, and strings no
  database can store (U+0000, a lone surrogate escape), are a 422 ``invalid_json``, the same
  on SQLite and PostgreSQL, never a 500.
"""
from __future__ import annotations

import io
import json
import math
import re

from flask import current_app
from flask import request
from gunicorn.http.errors import ParseException
from webargs import core
from webargs.flaskparser import FlaskParser
from webargs.flaskparser import is_json_request
from werkzeug.exceptions import RequestEntityTooLarge

from orqo.errors import ApiError
from orqo.messages import UNSTORABLE_CHARACTERS

# Only an escape can put U+0000 or a surrogate in a decoded JSON string (a raw control
# character is invalid JSON, and UTF-8 cannot encode a surrogate), so documents without such
# an escape skip the walk over their strings.
UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
# What reading a broken chunked body raises: gunicorn's parse errors (InvalidChunkSize,
# ChunkMissingTerminator, InvalidChunkExtension), and OSError for a body that ends early
# (gunicorn's NoMoreData) or a connection that breaks while it is read.
BROKEN_BODY = (ParseException, OSError)


def limit_chunked_body() -> None:
    """Read a chunked request body before the view does; 413 when it is over the limit.

    Runs before every request. The body is read at most ``MAX_CONTENT_LENGTH + 1`` bytes far
    and handed on as an ordinary in-memory stream, so the view reads it as usual.
    """
    environ = request.environ
    if environ.get("CONTENT_LENGTH") or not environ.get("wsgi.input_terminated"):
        return  # a body of known length: werkzeug enforces the limit itself
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is None or environ.get("HTTP_TRANSFER_ENCODING", "").lower() != "chunked":
        return
    try:
        body = environ["wsgi.input"].read(limit + 1)
    except BROKEN_BODY:
        raise ApiError(400, "invalid_chunked_body",
                       "The request body is not valid chunked encoding: a chunk size is not "
                       "hexadecimal, a chunk does not end where its size says, or the body "
                       "ends before its last chunk.") from None
    if len(body) > limit:
        raise RequestEntityTooLarge()
    environ["wsgi.input"] = io.BytesIO(body)


class InvalidJson(ValueError):
    """A document that is not valid JSON; the message says why, never quoting the document."""


def decode_json(raw: bytes | str):
    """``raw`` decoded as JSON, or :class:`InvalidJson` for anything ``json.loads`` refuses,
    including what it raises other than ``JSONDecodeError`` for: bytes that are not UTF-8,
    nesting past the recursion limit, an integer literal of over 4,300 digits. The API reads
    bodies with :func:`parse_json`, adapters with :func:`orqo.adapters.load_json`."""
    try:
        if isinstance(raw, (bytes, bytearray)):
            raw = raw.decode(json.detect_encoding(raw), "surrogatepass")
        return _DECODER.decode(raw)
    except InvalidJson:
        raise
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"{exc.msg} at character {exc.pos}") from None
    except UnicodeDecodeError:
        raise InvalidJson("it is not UTF-8") from None
    except RecursionError:
        raise InvalidJson("it is nested too deeply") from None
    except ValueError as exc:  # the integer-digits limit; its message names no value
        raise InvalidJson(str(exc)) from None


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise InvalidJson("a number is too large to be a finite number")
    return number


def _not_a_number(name: str):
    raise InvalidJson(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_not_a_number)


def unstorable_string(document) -> str | None:
    """Why a string in ``document`` (a key or a value, at any depth) cannot be stored, or None.

    Walked with a stack, not recursion: a document nested as deep as the parser allows must
    not exhaust the recursion limit here."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            found = UNSTORABLE_CHARACTERS.search(value)
            if found and found.group() == "\x00":
                return "a string holds U+0000, which orqo does not store"
            if found:
                return ("a string holds a lone surrogate escape (\\ud800 to \\udfff), which "
                        "is not a Unicode character")
        elif isinstance(value, dict):
            stack.extend(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return None


def parse_json(raw: bytes):
    """``raw`` decoded as JSON, or :class:`~orqo.errors.ApiError` 422 ``invalid_json`` saying
    what is wrong with it, also for a string no database can store (:func:`unstorable_string`).
    """
    try:
        document = decode_json(raw)
    except InvalidJson as exc:
        raise _invalid(str(exc)) from None
    reason = unstorable_string(document) if UNSTORABLE_ESCAPE.search(raw) else None
    if reason:
        raise _invalid(reason)
    return document


def _invalid(reason: str) -> ApiError:
    return ApiError(422, "invalid_json", f"The body is not valid JSON: {reason}.")


class OrqoParser(FlaskParser):
    """webargs' Flask parser, reading JSON bodies with :func:`parse_json`; an empty JSON body
    is a missing one (the schema then says which fields are required)."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return core.missing
        raw = req.get_data(cache=True)
        if not raw.strip():
            return core.missing
        return parse_json(raw)
