"""The SQL of the webhook path, written once with ``:name`` parameters, and how it becomes the
driver's (:class:`Statements`).

The webhook path runs these thousands of times a second, so they are SQL text sent with the
driver directly (:mod:`orqo.store`); everything else in orqo uses SQLAlchemy. Each statement
has one text for both databases, except the waitbox lookup (:data:`WAITBOX`), which each
database should answer from its index in its own way.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

#: Everything routing needs about one message, in one statement: the Contact behind the
#: sender, whether the dedupe key was claimed already, the Contact's claimed messages of the
#: last minute (counted up to the limit), the open waitbox the message would answer, and the
#: Doorkeeper conversation of its chat with its open session. No row: not a Contact.
READ = """
SELECT cc.contact_id,
       (SELECT 1 FROM messages m
         WHERE m.app_id = :app_id AND m.dedupe_key = :dedupe_key AND m.claimed) AS seen,
       (SELECT count(*) FROM (SELECT 1 FROM messages r
         WHERE r.contact_id = cc.contact_id AND r.created_at >= :since AND r.app_id = :app_id
           AND r.claimed LIMIT :cap) AS latest) AS recent,
       w.id, w.reference, c.id, s.id
FROM contact_channels cc
{waitbox}
LEFT JOIN conversations c ON c.app_id = :app_id AND c.contact_id = cc.contact_id
     AND c.chat_id = :chat_id AND c.thread_key = :thread_key
LEFT JOIN conversation_sessions s ON s.conversation_id = c.id AND s.ended_at IS NULL
WHERE cc.app_id = :app_id AND cc.sender_id = :sender_id
"""

#: The open waitbox the message would answer (the waitbox handler's rule): one bound to the
#: message it replies to (its ``reply_key`` is the message's ``reply_to``) first, then one
#: bound to its thread before a thread-less one, the oldest of each.
WAITBOX = {
    "sqlite": """
LEFT JOIN waitboxes w ON w.id = coalesce(
    (SELECT b.id FROM waitboxes b
     WHERE b.app_id = :app_id AND b.contact_id = cc.contact_id AND b.status = 'waiting'
       AND b.reply_key = :reply_to AND b.expires_at > :now
     ORDER BY b.created_at, b.id LIMIT 1),
    (SELECT b.id FROM waitboxes b
     WHERE b.app_id = :app_id AND b.contact_id = cc.contact_id AND b.status = 'waiting'
       AND b.thread_id = :thread_id AND b.expires_at > :now
     ORDER BY b.created_at, b.id LIMIT 1),
    (SELECT b.id FROM waitboxes b
     WHERE b.app_id = :app_id AND b.contact_id = cc.contact_id AND b.status = 'waiting'
       AND b.thread_id IS NULL AND b.expires_at > :now
     ORDER BY b.created_at, b.id LIMIT 1))""",
    "postgresql": """
LEFT JOIN LATERAL (
    SELECT b.id, b.reference FROM waitboxes b
    WHERE b.app_id = :app_id AND b.contact_id = cc.contact_id AND b.status = 'waiting'
      AND (b.thread_id IS NULL OR b.thread_id = :thread_id
           OR b.reply_key = CAST(:reply_to AS varchar))
      AND b.expires_at > :now
    ORDER BY (b.reply_key = CAST(:reply_to AS varchar)) IS TRUE DESC, b.thread_id IS NULL,
             b.created_at, b.id LIMIT 1) w ON true""",
}

# The rows a routed message writes. {delivery_id} and {message_id} are parameters when the
# statements run one by one; inside PostgreSQL's statement of CTEs (Statements.at_once) they
# are the ids the earlier CTEs returned, and the VALUES a SELECT from those CTEs.
DELIVERY = """
INSERT INTO deliveries (app_id, received_at, method, client_address, outcome, reason,
                        status_code, duration_ms, meta, headers, body, body_bytes)
VALUES (:app_id, :received_at, :method, :client_address, :delivery_outcome, :delivery_reason,
        :status_code, :duration_ms, :meta, :headers, :body, :body_bytes)
RETURNING id
"""
MESSAGE = """
INSERT INTO messages (delivery_id, app_id, platform, kind, dedupe_key, platform_message_id,
                      sender_id, sender_name, chat_id, thread_id, reply_to, text, sent_at,
                      action_id, action_value, attachments, extra, contact_id, outcome, claimed,
                      reason, handler, handler_ref, created_at)
VALUES ({delivery_id}, :app_id, :platform, :kind, :dedupe_key, :platform_message_id,
        :sender_id, :sender_name, :chat_id, :thread_id, :reply_to, :text, :sent_at,
        :action_id,
        :action_value, :attachments, :extra, :contact_id, :outcome, :claimed, :reason,
        :handler, :handler_ref, :created_at)
RETURNING id
"""
ENTRY = """
INSERT INTO conversation_entries (conversation_id, session_id, message_id, status, claims,
                                  created_at)
VALUES (:conversation_id, :session_id, {message_id}, :entry_status, 0, :created_at)
"""
PUSH = """
INSERT INTO push_deliveries (message_id, payload, status, attempts, next_attempt_at,
                             last_error, created_at)
VALUES ({message_id}, :payload, 'pending', 0, :created_at, '', :created_at)
"""
#: Answer the waitbox, only if it is still waiting (one row changed, or none: taken).
TAKE_WAITBOX = """
UPDATE waitboxes SET status = 'answered', message_id = :message_id, answered_at = :created_at
WHERE id = :waitbox_id AND status = 'waiting' AND expires_at > :created_at
"""
# PostgreSQL, inside the one statement: lock the waitbox first; the delivery and the message
# are inserted from its row, so nothing is written when it is no longer waiting.
LOCK_WAITBOX = """
SELECT id FROM waitboxes
WHERE id = :waitbox_id AND status = 'waiting' AND expires_at > :created_at FOR UPDATE
"""
ANSWER_WAITBOX = """
UPDATE waitboxes SET status = 'answered', message_id = m.id, answered_at = :created_at
FROM m WHERE waitboxes.id = :waitbox_id
"""

PARAMETER = re.compile(r"(?<![:\w]):([a-z_]+)")
VALUES = re.compile(r"VALUES \((.*?)\)(\s*RETURNING id)?\s*$", re.S)


@dataclass(frozen=True, slots=True)
class Statement:
    """A statement's text in the driver's positional style, and its parameters' names in
    order (:meth:`values` picks them from a dict)."""

    text: str
    names: tuple

    def values(self, params: dict) -> list:
        """The parameters of ``params`` this statement takes, in order."""
        return [params[name] for name in self.names]


def selecting(template: str, source: str) -> str:
    """``template``, an INSERT with VALUES, as an INSERT ... SELECT from ``source``."""
    return VALUES.sub(lambda m: f"SELECT {m.group(1)} {source}{m.group(2) or ''}",
                      template.strip())


class Statements:
    """The webhook path's statements for one database, in its driver's parameter style."""

    def __init__(self, dialect: str):
        self.postgres = dialect == "postgresql"
        self.begin = Statement("BEGIN", ())
        self.read = self.compile(READ.format(waitbox=WAITBOX[dialect]))
        self.delivery = self.compile(DELIVERY)
        self.message = self.compile(MESSAGE.format(delivery_id=":delivery_id"))
        self.entry = self.compile(ENTRY.format(message_id=":message_id"))
        self.push = self.compile(PUSH.format(message_id=":message_id"))
        self.take_waitbox = self.compile(TAKE_WAITBOX)
        self._at_once = {}

    def compile(self, text: str) -> Statement:
        """``text`` with its ``:name`` parameters as the driver's positional ones."""
        names = tuple(PARAMETER.findall(text))
        if self.postgres:
            return Statement(PARAMETER.sub("%s", text.replace("%", "%%")), names)
        return Statement(PARAMETER.sub("?", text), names)

    def at_once(self, new_delivery: bool, waitbox: bool, entry: bool, push: bool) -> Statement:
        """PostgreSQL: a whole write as one statement of CTEs, for one shape of write (cached).

        ``w`` locks the waitbox (the delivery and the message are inserted from its row, so
        not at all when it is no longer waiting), ``d`` inserts the delivery, ``m`` the
        message, ``t`` answers the waitbox, ``e`` the conversation entry, ``p`` the push. The
        statement answers the delivery's and the message's ids (the message's None: the
        waitbox was taken).
        """
        shape = (new_delivery, waitbox, entry, push)
        statement = self._at_once.get(shape)
        if statement is not None:
            return statement
        ctes, sources = [], []
        if waitbox:
            ctes.append(("w", LOCK_WAITBOX))
            sources.append("w")
        if new_delivery:
            ctes.append(("d", selecting(DELIVERY, "FROM w" if waitbox else "")))
            sources.insert(0, "d")
        message = MESSAGE.format(delivery_id="d.id" if new_delivery else ":delivery_id")
        ctes.append(("m", selecting(message, f"FROM {', '.join(sources)}" if sources else "")))
        if waitbox:
            ctes.append(("t", ANSWER_WAITBOX))
        if entry:
            ctes.append(("e", selecting(ENTRY.format(message_id="m.id"), "FROM m")))
        if push:
            ctes.append(("p", selecting(PUSH.format(message_id="m.id"), "FROM m")))
        delivery = "(SELECT id FROM d)" if new_delivery else ":delivery_id"
        text = ("WITH " + ", ".join(f"{name} AS ({body})" for name, body in ctes)
                + f" SELECT {delivery}, (SELECT id FROM m)")
        statement = self._at_once[shape] = self.compile(text)
        return statement
