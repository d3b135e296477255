"""The send-stage conformance suite every adapter that sends runs against itself.

Subclass :class:`SendConformance` in a test module (the class name must start with ``Test``),
fill in the class attributes and the methods that give the platform's own answers, and pytest
runs every check against a :class:`~orqo.testing.platform.FakePlatform` the App's
``api_base_url`` points at::

    from orqo.testing.platform import Answer
    from orqo.testing.sending import SendConformance
    import orqo_echo

    class TestEchoSendConformance(SendConformance):
        plugin = orqo_echo
        platform = "echo"
        credentials = {"token": "echo-token-number-one"}
        recipient = "ada"
        in_reply_to = {"platform_message_id": "m-1", "chat_id": None, "thread_id": None,
                       "extra": {}}

        def send_path(self):
            return "/messages"

        def sent_answer(self):
            return Answer.of(200, json={"ok": True, "id": "m-2"})

        def rate_limited_answer(self):
            return Answer.of(429, json={"ok": False}, headers={"Retry-After": "7"}), 7.0

        def permanent_failure_answer(self):
            return Answer.of(200, json={"ok": False, "error": "user_blocked"}), "user_blocked"

The adapter is called as orqo's worker calls it: ``adapter.send(SendRequest(...), Http(session,
seconds=5))`` with the credentials and config validated by the adapter. The checks:

* a send answered with :meth:`~SendConformance.sent_answer` is ``sent`` with the platform's
  message id and a reply key, in one request that carries the text;
* the rate limit is a ``retry`` with the platform's wait; the permanent failure is ``failed``
  with the platform's reason; the platform's own trouble (when given) is a ``retry``;
* malformed answers (HTML, empty, truncated, fields of the wrong type, 5xx) are ``retry`` or
  ``failed``, never an exception; an unreachable platform raises
  :class:`requests.RequestException` or is a ``retry``;
* no credential ever appears in a result, even when the platform's answer quotes what it was
  sent;
* a reply (``in_reply_to``) reaches the platform carrying its pointer, and an answer to the
  sent message parses with ``reply_to`` equal to the send's ``reply_key`` (when
  :meth:`~SendConformance.answer_delivery` gives one);
* a text of ``max_text_length`` characters goes whole; the App can send; moving the API's URL
  changes the App's credentials destination.
"""
from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass

import pytest
import requests

from orqo.adapters import Adapter
from orqo.deadlines import make_session
from orqo.messages import check_message
from orqo.outbound import Http
from orqo.stages import SEND_STATUSES
from orqo.stages import SendRequest
from orqo.stages import SendResult
from orqo.testing.conformance import make_stage_request
from orqo.testing.platform import Answer
from orqo.testing.platform import FakePlatform
from orqo.testing.platform import RecordedRequest
from orqo.testing.platform import unreachable_url
from orqo.testing.send_helpers import assert_no_credentials
from orqo.testing.send_helpers import carries_text
from orqo.testing.send_helpers import credential_values
from orqo.testing.send_helpers import json_of
from orqo.testing.send_helpers import load_adapter
from orqo.testing.send_helpers import quote_in_strings
from orqo.testing.send_helpers import replace_leaves

#: The App id the suite's sends are made for.
APP_ID = "appSendConformance"
#: Seconds one send attempt may take in all (the worker's ``Http`` deadline).
ATTEMPT_SECONDS = 5.0


@dataclass
class SendKit:
    """What each check gets (the ``sending`` fixture): the adapter, the fake platform, and
    :meth:`send`, which calls the adapter as orqo's worker does."""

    suite: SendConformance
    adapter: Adapter
    fake: FakePlatform

    def __post_init__(self):
        self._message_ids = itertools.count(1)

    def settings(self, base_url: str | None = None) -> tuple[dict, dict]:
        """The suite's credentials and config, validated, the API at ``base_url`` (default:
        the fake platform)."""
        return self.adapter.validate_settings(
            self.suite.credentials, self.suite.app_config(base_url or self.fake.url))

    def request(self, *, text: str | None = None, in_reply_to: dict | None = None,
                base_url: str | None = None, message_id: int | None = None) -> SendRequest:
        """A :class:`SendRequest` as the worker builds it for the suite's App."""
        credentials, config = self.settings(base_url)
        return SendRequest(
            app_id=APP_ID, adapter=self.suite.platform, credentials=credentials, config=config,
            message_id=next(self._message_ids) if message_id is None else message_id,
            recipient=self.suite.recipient, text=self.suite.text if text is None else text,
            chat_id=self.suite.chat_id, in_reply_to=copy.deepcopy(in_reply_to))

    def send(self, **request_options) -> SendResult:
        """Send one message (options as :meth:`request` takes them) and check the result's
        type and status, and that no credential appears in it."""
        request = self.request(**request_options)
        with make_session(trust_env=False) as session:  # loopback only, whatever the proxies
            result = self.adapter.send(request, Http(session, seconds=ATTEMPT_SECONDS))
        assert isinstance(result, SendResult), f"send returned {result!r}, not a SendResult"
        assert result.status in SEND_STATUSES, result.status
        assert_no_credentials(result, self.suite.secrets())
        return result

    def script(self, answer: Answer) -> None:
        """Forget what came before and answer every send with ``answer``."""
        self.fake.reset()
        self.suite.script_platform(self.fake)
        self.fake.always(self.suite.send_path(), answer)


class SendConformance:
    """Send-stage checks every adapter that sends must pass. See the module docstring."""

    #: The plugin module (or object) that registers the adapter.
    plugin = None
    #: The adapter's platform name.
    platform = ""
    #: The App's credentials: what sending needs (a bot token), and for
    #: :meth:`answer_delivery` what verifying a delivery needs (a signing secret).
    credentials: dict = {}
    #: Names of credentials that are identifiers rather than secrets (a WhatsApp phone
    #: number id, which is in the API's path): left out of the checks for credentials.
    non_secret_credentials: tuple = ()
    #: The App's adapter config, without the API's URL (:meth:`app_config` adds it).
    config: dict = {}
    #: The Contact's sender id on the App, as the adapter's parse stage gives it.
    recipient: str = ""
    #: The chat to send in, as the parse stage gives ``chat_id``; None: to the recipient.
    chat_id: str | None = None
    #: A received message to reply to, as the parse stage gives it (``platform_message_id``,
    #: ``chat_id``, ``thread_id``, ``extra``); None skips the reply checks.
    in_reply_to: dict | None = None
    #: The text the checks send.
    text: str = "Hello from the send conformance suite ✓ (Grüße, 你好)"

    def secrets(self) -> dict:
        """The credentials no result may show: :attr:`credentials` but the
        :attr:`non_secret_credentials`."""
        return {name: value for name, value in self.credentials.items()
                if name not in self.non_secret_credentials}

    def send_path(self) -> str:
        """The path (on the API's base URL) the adapter posts a message to."""
        raise AssertionError("a SendConformance subclass must define send_path()")

    def sent_answer(self) -> Answer:
        """The platform's answer to a message it took (:meth:`Answer.of`)."""
        raise AssertionError("a SendConformance subclass must define sent_answer()")

    def rate_limited_answer(self) -> tuple[Answer, float | None]:
        """The platform's rate-limit answer, and the seconds it asks to wait (``None`` when
        it gives none: then only the ``retry`` is checked)."""
        raise AssertionError("a SendConformance subclass must define rate_limited_answer()")

    def permanent_failure_answer(self) -> tuple[Answer, str]:
        """An answer trying again cannot help (a blocked bot, an unknown chat), and a part of
        the platform's reason the ``failed`` result must quote (its error code)."""
        raise AssertionError("a SendConformance subclass must define permanent_failure_answer()")

    def transient_failure_answer(self) -> Answer | None:
        """The platform's own trouble, in its own words (an ``internal_error``, a 5xx with
        its error body), which must be a ``retry``; None skips the check."""
        return None

    def app_config(self, base_url: str) -> dict:
        """The App's config with its API at ``base_url``: :attr:`config` plus
        ``api_base_url``. Override it for a URL under another name or with a path."""
        return {**self.config, "api_base_url": base_url}

    def script_platform(self, fake_platform: FakePlatform) -> None:
        """Script answers for any call the adapter makes besides :meth:`send_path` (called
        before each send's answers are scripted)."""

    def check_request(self, request: RecordedRequest) -> None:
        """Assert what the platform needs of a send request (its credential, the recipient,
        the body's shape); the default checks nothing more than the suite does."""

    def check_reply_request(self, request: RecordedRequest, in_reply_to: dict) -> None:
        """Assert that a reply's request carries the platform's reply pointer for
        ``in_reply_to`` (a ``thread_ts``, ``reply_parameters``, ``context``)."""

    def answer_delivery(self, sent: SendResult) -> tuple[bytes, dict] | None:
        """A delivery (body and headers, signed for :attr:`credentials`) in which the
        recipient answers the message ``sent`` was the result of (a thread reply, a quoted
        reply); None (the default) skips the pairing check."""
        return None

    def malformed_answers(self) -> dict[str, Answer]:
        """Answers no platform means as "sent", each of which must give ``retry`` or
        ``failed`` and never an exception. Drop any your platform does mean as "sent"."""
        sent = self.sent_answer()
        document = json_of(sent)
        document = {} if document is None else document
        html = b"<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>"
        return {
            "HTML 200": Answer.of(200, headers={"Content-Type": "text/html"}, body=html),
            "empty 200": Answer.of(200),
            "truncated JSON 200": Answer.of(200, headers=sent.headers,
                                            body=sent.body[:max(1, len(sent.body) // 2)]),
            "JSON array 200": Answer.of(200, json=[]),
            "JSON null 200": Answer.of(200, body=b"null",
                                       headers={"Content-Type": "application/json"}),
            "JSON of another shape 200": Answer.of(200, json={"unexpected": True}),
            "every field null 200": Answer.of(200, json=replace_leaves(document, None)),
            "every field an object 200": Answer.of(
                200, json=replace_leaves(document, {"unexpected": [1]})),
            "nested too deeply 200": Answer.of(200, body=b"[" * 100_000 + b"]" * 100_000,
                                               headers={"Content-Type": "application/json"}),
            "not UTF-8 200": Answer.of(200, body=b'{"ok": "\xff\xfe"}',
                                       headers={"Content-Type": "application/json"}),
            "HTML 502": Answer.of(502, headers={"Content-Type": "text/html"},
                                  body=b"<html><body>502 Bad Gateway</body></html>"),
            "empty 500": Answer.of(500),
            "empty 503": Answer.of(503),
            "HTML 404": Answer.of(404, headers={"Content-Type": "text/html"},
                                  body=b"<html><body>Not Found</body></html>"),
        }

    # --- set-up ---------------------------------------------------------------------------

    @pytest.fixture
    def sending(self, fake_platform) -> SendKit:
        """A :class:`SendKit` over the adapter and a started fake platform."""
        return SendKit(self, load_adapter(self.plugin, self.platform), fake_platform)

    # --- checks ---------------------------------------------------------------------------

    def test_send_conformance_sent_answer_is_sent(self, sending):
        sending.script(self.sent_answer())
        result = sending.send()
        assert result.status == "sent", result.reason
        assert isinstance(result.platform_message_id, str) and result.platform_message_id
        assert isinstance(result.reply_key, str) and result.reply_key
        arrived = sending.fake.requests_to(self.send_path())
        assert len(arrived) == 1, [f"{r.method} {r.path}" for r in sending.fake.requests]
        assert carries_text(arrived[0], self.text), "the request does not carry the text"
        self.check_request(arrived[0])

    def test_send_conformance_rate_limit_is_retried_after_the_platforms_wait(self, sending):
        answer, wait = self.rate_limited_answer()
        sending.script(answer)
        result = sending.send()
        assert result.status == "retry", (result.status, result.reason)
        assert result.reason
        if wait is not None:
            assert result.retry_after == pytest.approx(wait)

    def test_send_conformance_permanent_failure_fails_with_the_platforms_reason(self, sending):
        answer, reason = self.permanent_failure_answer()
        sending.script(answer)
        result = sending.send()
        assert result.status == "failed", (result.status, result.reason)
        assert reason in result.reason

    def test_send_conformance_platform_trouble_is_retried(self, sending):
        answer = self.transient_failure_answer()
        if answer is None:
            pytest.skip(f"no transient_failure_answer() for {self.platform}")
        sending.script(answer)
        result = sending.send()
        assert result.status == "retry", (result.status, result.reason)
        assert result.reason

    def test_send_conformance_malformed_answers_are_retry_or_failed(self, sending):
        for name, answer in self.malformed_answers().items():
            sending.script(answer)
            try:
                result = sending.send()
            except AssertionError:  # the kit's own checks of the result
                raise
            except Exception as exc:
                pytest.fail(f"{name}: send raised {type(exc).__name__}: {exc}")
            assert result.status in ("retry", "failed"), (name, result.status)
            assert result.reason, name

    def test_send_conformance_unreachable_platform_is_a_network_error_or_retry(self, sending):
        try:
            result = sending.send(base_url=unreachable_url())
        except requests.RequestException:
            return  # the worker records it as a retry
        assert result.status == "retry", (result.status, result.reason)

    def test_send_conformance_answers_quoting_credentials_keep_them_out(self, sending):
        # A platform (or a proxy before it) can only quote what it was sent: the credentials
        # the adapter puts in its request (a Bearer header, a bot token in the path).
        sending.script(self.sent_answer())
        sending.send()
        seen = " ".join(f"{r.path}?{r.query} {' '.join(v for _, v in r.header_pairs)} "
                        f"{r.text()}" for r in sending.fake.requests)
        quoted = " ".join([value for value in credential_values(self.secrets())
                           if value in seen] + [self.send_path()])
        failure, _ = self.permanent_failure_answer()
        limited, _ = self.rate_limited_answer()
        answers = {"text 401": Answer.of(401, body=f"Unauthorized: {quoted}"),
                   "text 404": Answer.of(404, body=f"Not Found: {quoted}")}
        for name, answer in (("permanent failure", failure), ("rate limit", limited),
                             ("platform trouble", self.transient_failure_answer())):
            document = json_of(answer)
            if document is not None:
                answers[name] = Answer.of(answer.status, json=quote_in_strings(document, quoted),
                                          headers={k: v for k, v in answer.headers.items()
                                                   if k.lower() != "content-type"})
        for name, answer in answers.items():
            sending.script(answer)
            result = sending.send()  # checks every result for credentials
            assert result.status in ("retry", "failed"), (name, result.status)

    def test_send_conformance_reply_reaches_the_platform(self, sending):
        if self.in_reply_to is None:
            pytest.skip(f"no in_reply_to for {self.platform}")
        sending.script(self.sent_answer())
        plain = sending.send(message_id=7)
        reply = sending.send(message_id=7, in_reply_to=self.in_reply_to)
        assert (plain.status, reply.status) == ("sent", "sent"), (plain.reason, reply.reason)
        first, second = sending.fake.requests_to(self.send_path())
        assert carries_text(second, self.text)
        assert first.body != second.body, "the reply's request carries no reply pointer"
        self.check_reply_request(second, self.in_reply_to)

    def test_send_conformance_answer_pairs_with_the_reply_key(self, sending):
        sending.script(self.sent_answer())
        sent = sending.send()
        delivery = self.answer_delivery(sent)
        if delivery is None:
            pytest.skip(f"no answer_delivery() for {self.platform}")
        body, headers = delivery
        credentials, config = sending.settings()
        request = make_stage_request(APP_ID, self.platform, body, headers, credentials, config)
        verdict = sending.adapter.verify(request)
        assert verdict.accepted, verdict.reason
        messages = sending.adapter.parse(request).messages
        assert messages, "the answer delivery must yield a message"
        answer = check_message(copy.deepcopy(messages[0]))
        assert answer.reply_to == sent.reply_key, (answer.reply_to, sent.reply_key)

    def test_send_conformance_longest_text_is_sent_whole(self, sending):
        longest = type(sending.adapter).max_text_length
        if longest is None:
            pytest.skip(f"{self.platform} sets no max_text_length")
        text = ("orqo✓" * (longest // 5 + 1))[:longest]
        sending.script(self.sent_answer())
        result = sending.send(text=text)
        assert result.status == "sent", result.reason
        arrived = sending.fake.requests_to(self.send_path())
        assert len(arrived) == 1 and carries_text(arrived[0], text)

    def test_send_conformance_settings(self, sending):
        adapter = type(sending.adapter)
        _, config = sending.settings()
        assert adapter.can_send(config)
        assert math.isfinite(adapter.send_interval) and adapter.send_interval >= 0
        assert adapter.max_text_length is None or (
            isinstance(adapter.max_text_length, int) and adapter.max_text_length > 0)
        here = adapter.credentials_destination(config)
        _, elsewhere = sending.settings(unreachable_url())
        assert here is not None, "credentials_destination() must name the API's origin"
        assert here != adapter.credentials_destination(elsewhere), (
            "moving the API's URL must change the credentials destination")
