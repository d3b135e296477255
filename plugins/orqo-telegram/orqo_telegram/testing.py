"""Telegram updates as the Bot API sends them (core.telegram.org/bots/api#update), for tests
and for ``orqo send``: :func:`sample_delivery` makes one with new ids.
"""
from __future__ import annotations

import json
import secrets
import time

#: ``update_id`` and ``message_id`` are 31-bit: Telegram's ids fit a signed 32-bit integer.
MAX_ID = 2**31 - 1


def person(user_id: int, first_name: str = "Ada") -> dict:
    """A ``User`` who is not a bot."""
    return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "de"}


def private_chat(user_id: int, first_name: str = "Ada") -> dict:
    """The private ``Chat`` with a user (its id is the user's)."""
    return {"id": user_id, "first_name": first_name, "type": "private"}


def text_update(update_id: int, message_id: int, user_id: int, text: str, *, date=None,
                reply_to_message_id: int | None = None) -> dict:
    """An ``Update`` carrying a private text ``message``, replying to another message of the
    chat when ``reply_to_message_id`` is given."""
    date = int(time.time() if date is None else date)
    message = {"message_id": message_id, "from": person(user_id),
               "chat": private_chat(user_id), "date": date, "text": text}
    if reply_to_message_id is not None:
        message["reply_to_message"] = {
            "message_id": reply_to_message_id, "date": date,
            "from": {"id": 7000000001, "is_bot": True, "first_name": "orqo",
                     "username": "orqo_bot"},
            "chat": private_chat(user_id), "text": "…"}
    return {"update_id": update_id, "message": message}


def sample_delivery(secret_token: str | None, user_id: int, text: str,
                    reply_to_message_id: int | None = None) -> tuple[bytes, dict]:
    """A private text message from ``user_id`` with a random ``update_id`` (the dedupe key)
    and ``message_id``, and the ``X-Telegram-Bot-Api-Secret-Token`` header when the App has a
    secret token."""
    update = text_update(secrets.randbelow(MAX_ID) + 1, secrets.randbelow(MAX_ID) + 1,
                         user_id, text, reply_to_message_id=reply_to_message_id)
    headers = {"Content-Type": "application/json"}
    if secret_token:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
    return json.dumps(update, ensure_ascii=False).encode("utf-8"), headers
