"""HTTP for the send stage: how an adapter calls its platform's API.

orqo's worker hands every :meth:`orqo.adapters.Adapter.send` an :class:`Http`: the worker's
pooled session with one deadline over the whole attempt (connect, send and every read, from
:mod:`orqo.deadlines`), redirects never followed, and at most :data:`ANSWER_KEEP_BYTES` of an
answer kept. An adapter never needs its own session or timeouts, and a slow platform cannot
hold the worker past the message's lease. A call that fails in the network (refused, reset,
the deadline passed) raises :class:`requests.RequestException`; the worker records it as a
``retry``, so adapters only read answers.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Mapping

import requests

from orqo import deadlines

#: How much of a platform's answer is read.
ANSWER_KEEP_BYTES = 256 * 1024
#: Characters of an answer quoted in a reason.
EXCERPT_CHARS = 300


@dataclass
class Reply:
    """A platform's answer: status, headers and (the start of) the body."""

    status_code: int
    headers: Mapping[str, str]
    body: bytes
    cut_off: bool = False

    def json(self):
        """The body decoded as JSON, or ``None`` when it is not JSON (or was cut off)."""
        if self.cut_off:
            return None
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            return None

    def excerpt(self) -> str:
        """``HTTP <status>: <start of the body>``, for a reason."""
        text = " ".join(self.body[:EXCERPT_CHARS * 4].decode("utf-8", "replace").split())
        return f"HTTP {self.status_code}" + (f": {text[:EXCERPT_CHARS]}" if text else "")

    def retry_after(self) -> float | None:
        """Seconds from the ``Retry-After`` header, or ``None``."""
        return deadlines.parse_retry_after(self.headers.get("Retry-After"))


class Http:
    """The calls one send attempt may make, all within ``seconds`` from its creation.

    :param session: a session from :func:`orqo.deadlines.make_session` (the worker's).
    :param seconds: the attempt's time in all.
    :param connect_timeout: the longest wait for a connection.
    """

    def __init__(self, session: requests.Session, seconds: float, connect_timeout: float = 3.0):
        self.session = session
        self.connect_timeout = connect_timeout
        self._until = time.monotonic() + seconds

    def seconds_left(self) -> float:
        """What is left of the attempt's time."""
        return self._until - time.monotonic()

    def post(self, url: str, *, json_body=None, data: bytes | None = None,
             headers: dict | None = None) -> Reply:
        """POST ``json_body`` (encoded as compact UTF-8 JSON) or raw ``data`` to ``url``.

        :raises requests.RequestException: no answer (the worker retries later).
        """
        headers = {"Accept": "application/json", "Accept-Encoding": "identity",
                   "User-Agent": "orqo", **(headers or {})}
        if json_body is not None:
            data = json.dumps(json_body, separators=(",", ":"), ensure_ascii=False
                              ).encode("utf-8")
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        answer = deadlines.post(self.session, url, data=data or b"", headers=headers,
                                connect_timeout=self.connect_timeout,
                                total_seconds=self.seconds_left(), keep=ANSWER_KEEP_BYTES)
        return Reply(answer.status_code, answer.headers, answer.body, answer.cut_off)
