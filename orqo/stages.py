"""What the verify, parse and send stages receive and return, as plain data.

The same shapes serve in-process adapter plugins and (serialised by :mod:`orqo.schemas`)
remote adapters over HTTP, so they hold only strings, numbers, bytes, lists and dicts.
"""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

from orqo.messages import Message


@dataclass
class StageRequest:
    """One delivery, as the verify and parse stages see it.

    :param app_id: the App the delivery was sent to.
    :param adapter: the App's adapter platform name.
    :param method: ``POST`` or ``GET``.
    :param path: the request path.
    :param query: the query string as ``[name, value]`` pairs, in order, repeats kept.
    :param headers: the headers as ``[name, value]`` pairs, in order, repeats kept; names as
        received (compare them case-insensitively, see :meth:`header`).
    :param body: the raw body bytes, exactly as received: signatures are computed over these.
    :param credentials: the App's credentials under the names the adapter declares.
    :param config: the App's adapter config, validated by the adapter's config schema.
    :param received_at: when orqo received the delivery, in Unix seconds (use it, not the
        clock, for timestamp windows).
    :param previous_credentials: during a secret rotation, the App's replaced credentials,
        still accepted until their stated time. Adapters need not look at them: orqo verifies
        again with each of them when the current credentials are rejected.
    """

    app_id: str
    adapter: str
    method: str
    path: str
    query: list[list[str]]
    headers: list[list[str]]
    body: bytes
    credentials: dict
    config: dict
    received_at: float
    previous_credentials: list[dict] = field(default_factory=list)
    _by_name: dict | None = field(default=None, init=False, repr=False, compare=False)

    def header_values(self, name: str) -> list[str]:
        """Every value of the header ``name`` (case-insensitive), in the order received."""
        return list(self._values(name))

    def _values(self, name: str) -> tuple | list:
        if self._by_name is None:
            index = {}
            for key, value in self.headers:
                index.setdefault(key.lower(), []).append(value)
            self._by_name = index
        return self._by_name.get(name.lower(), ())

    def header(self, name: str) -> str | None:
        """The value of header ``name`` when it was sent exactly once, else ``None``.

        A header sent twice is treated as absent: a signature check must not pick one of two.
        """
        values = self._values(name)
        return values[0] if len(values) == 1 else None

    def query_value(self, name: str) -> str | None:
        """The value of query parameter ``name`` when given exactly once, else ``None``."""
        values = [value for key, value in self.query if key == name]
        return values[0] if len(values) == 1 else None


@dataclass
class Verdict:
    """The verify stage's answer: accept, or reject with a reason and an HTTP status.

    ``signed`` is false for a request a platform sends without any proof that orqo could
    check (Slack's ``ssl_check`` ping): accepted, but like a rejection it is only counted
    (:mod:`orqo.rejections`), and it may carry no messages.
    """

    accepted: bool
    reason: str = ""
    status: int = 401
    signed: bool = True

    @classmethod
    def accept(cls) -> Verdict:
        """The delivery is genuine: its signature (or secret token) was checked."""
        return cls(accepted=True)

    @classmethod
    def accept_unsigned(cls, reason: str) -> Verdict:
        """A request the platform sends unsigned, recognised by its exact shape; ``reason``
        says which (recorded with it). It may not carry messages."""
        return cls(accepted=True, reason=reason, signed=False)

    @classmethod
    def reject(cls, reason: str, status: int = 401) -> Verdict:
        """The delivery is not genuine; ``reason`` says why (never include a secret)."""
        return cls(accepted=False, reason=reason, status=status)


@dataclass
class ChallengeResponse:
    """A handshake answer echoed to the platform as is; processing stops there."""

    body: str
    status: int = 200
    content_type: str = "text/plain"


@dataclass
class ParseResult:
    """The parse stage's answer.

    :param messages: the normalised messages; empty means nothing to route (``ignored``).
    :param challenge: a handshake answer; when set, ``messages`` must be empty.
    :param reason: why there is nothing to route (for example "status update").
    :param meta: delivery details worth keeping in the ledger (for example retry headers).
    """

    messages: list[Message] = field(default_factory=list)
    challenge: ChallengeResponse | None = None
    reason: str = ""
    meta: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# The send stage: one outbound message through the App's platform
# ---------------------------------------------------------------------------------------------


@dataclass
class SendRequest:
    """One outbound message, as the send stage sees it (:meth:`orqo.adapters.Adapter.send`).

    :param app_id: the App the message is sent for.
    :param adapter: the App's adapter platform name.
    :param credentials: the App's credentials under the names the adapter declares.
    :param config: the App's adapter config, validated (``api_base_url`` among it for the
        first-party adapters).
    :param message_id: orqo's id of the outbound message: the same on every attempt, so a
        platform or receiver that takes an idempotency key or an opaque tag gets it.
    :param recipient: the Contact's sender id on this App (what the adapter's parse stage
        gives as ``sender_id`` for them: a Slack ``<team>:<user>``, a Telegram user id, a
        WhatsApp wa_id...).
    :param text: what to send (at most :data:`orqo.messages.MAX_TEXT` characters; an adapter
        splits or refuses what its platform will not take).
    :param chat_id: the chat to send in, as the parse stage gives ``chat_id``; ``None``: to the
        recipient directly (a DM, a private chat).
    :param in_reply_to: the received message this one answers, or ``None``: its
        ``platform_message_id``, ``chat_id``, ``thread_id`` and ``extra``, as the parse stage
        gave them. Reply in its thread or with its reply context.
    :param attempt: 1 on the first attempt, then 2, 3...
    """

    app_id: str
    adapter: str
    credentials: dict
    config: dict
    message_id: int
    recipient: str
    text: str
    chat_id: str | None = None
    in_reply_to: dict | None = None
    attempt: int = 1


#: What became of a send: ``sent``; ``retry`` (try again later); ``failed`` (permanently).
SEND_STATUSES = ("sent", "retry", "failed")


@dataclass
class SendResult:
    """The send stage's answer. Build it with :meth:`sent`, :meth:`retry` or :meth:`failed`.

    :param status: one of :data:`SEND_STATUSES`.
    :param platform_message_id: the platform's id of the sent message, in the form the
        adapter's parse stage gives ``platform_message_id``.
    :param chat_id: the chat it went to (as the parse stage gives ``chat_id``), when known.
    :param thread_id: the thread it went to (as the parse stage gives ``thread_id``).
    :param reply_key: what a received answer to this message carries as its ``reply_to``
        (:class:`orqo.messages.Message`): a waitbox bound to the message is answered first by
        a message whose ``reply_to`` equals it. Defaults to ``platform_message_id``.
    :param retry_after: for ``retry``: seconds the platform asked to wait (``None``: orqo's
        backoff decides).
    :param reason: for ``retry`` and ``failed``: what the platform said, never a secret.
    :param meta: plain JSON details worth keeping with the message (a template used...).
    """

    status: str
    platform_message_id: str | None = None
    chat_id: str | None = None
    thread_id: str | None = None
    reply_key: str | None = None
    retry_after: float | None = None
    reason: str = ""
    meta: dict = field(default_factory=dict)

    @classmethod
    def sent(cls, platform_message_id: str, *, chat_id: str | None = None,
             thread_id: str | None = None, reply_key: str | None = None,
             meta: dict | None = None) -> SendResult:
        """The platform took the message and named it ``platform_message_id``."""
        return cls(status="sent", platform_message_id=platform_message_id, chat_id=chat_id,
                   thread_id=thread_id, reply_key=reply_key or platform_message_id,
                   meta=meta or {})

    @classmethod
    def retry(cls, reason: str, after: float | None = None) -> SendResult:
        """Not sent, and worth trying again: a rate limit (``after`` = the seconds the platform
        asked for), the platform's own trouble, a timeout."""
        return cls(status="retry", reason=reason, retry_after=after)

    @classmethod
    def failed(cls, reason: str) -> SendResult:
        """Not sent, and trying again cannot help (a blocked bot, an unknown chat, a revoked
        token, a closed window with no template): ``reason`` is the platform's."""
        return cls(status="failed", reason=reason)
