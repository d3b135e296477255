"""Reading fields out of Slack's JSON, refusing what Slack could not have sent.

Every reader raises :class:`orqo.errors.MalformedDelivery` (answered 400, recorded
``malformed``) when a field has the wrong type or shape, so odd bodies never reach orqo's
message schema as an exception (which would be an ``adapter_error`` and a 503). Reasons name
the field, never its value.
"""
from __future__ import annotations

import re

from orqo.errors import MalformedDelivery
from orqo.messages import Attachment
from orqo.stages import ParseResult

#: Slack ids (team, user, channel, event, trigger...) are short; anything longer is not Slack.
#: Two of them joined by ":" must still fit orqo's 512-character id limit.
MAX_ID = 255

#: A Slack message timestamp: Unix seconds with a microsecond-like suffix ("1717171717.000200").
SLACK_TS = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?\Z")


def ignored(reason: str, **meta) -> ParseResult:
    """A verified delivery with nothing to route (recorded ``accepted`` with ``reason``)."""
    return ParseResult(messages=[], reason=reason, meta=meta)


def shown(value, limit: int = 64) -> str:
    """A platform-chosen name (an event type, a subtype) safe to put in a reason."""
    return repr(str(value)[:limit])


def text_field(obj: dict, key: str, where: str, required: bool = False) -> str | None:
    """``obj[key]`` as a string; None when absent, null or empty (unless ``required``)."""
    value = obj.get(key)
    if type(value) is str and value:
        return value
    if value is None or value == "":
        if required:
            raise MalformedDelivery(f"{where} has no {key}")
        return None
    if not isinstance(value, str):
        raise MalformedDelivery(f"{where}: {key} must be a string")
    return value


def id_field(obj: dict, key: str, where: str, required: bool = False) -> str | None:
    """``obj[key]`` as a Slack id: a string of at most :data:`MAX_ID` characters."""
    value = text_field(obj, key, where, required)
    if value is not None and len(value) > MAX_ID:
        raise MalformedDelivery(f"{where}: {key} is longer than {MAX_ID} characters")
    return value


def ts_field(obj: dict, key: str, where: str, required: bool = False) -> str | None:
    """``obj[key]`` as a Slack timestamp string (``"1717171717.000200"``)."""
    value = text_field(obj, key, where, required)
    if value is not None and not SLACK_TS.match(value):
        raise MalformedDelivery(f"{where}: {key} is not a Slack timestamp")
    return value


def object_field(obj: dict, key: str, where: str, required: bool = False) -> dict | None:
    """``obj[key]`` as a JSON object; None when absent or null (unless ``required``)."""
    value = obj.get(key)
    if value is None:
        if required:
            raise MalformedDelivery(f"{where} has no {key}")
        return None
    if not isinstance(value, dict):
        raise MalformedDelivery(f"{where}: {key} must be an object")
    return value


def sender_id(team: str, user: str) -> str:
    """orqo's Slack sender id: user ids are only guaranteed unique within a workspace."""
    return f"{team}:{user}"


def thread_root(thread_ts: str | None, ts: str | None) -> str | None:
    """The ``reply_to`` of a Slack message: its thread's root ``ts`` when it is a reply in a
    thread (``thread_ts`` set and not its own ``ts``), else None. A thread root carries its own
    ts as ``thread_ts``; it answers nothing."""
    return thread_ts if thread_ts and thread_ts != ts else None


def _file_kind(mime_type: str | None, slack_subtype: str | None) -> str:
    # Slack's own recorded clips carry a subtype; a voice memo is "voice", not an audio file.
    if slack_subtype == "slack_audio":
        return "voice"
    if slack_subtype == "slack_video":
        return "video"
    major = (mime_type or "").partition("/")[0].lower()
    return major if major in ("image", "audio", "video") else "document"


def file_attachments(files, where: str) -> list[Attachment]:
    """The ``files[]`` of a message as attachments (kind from the mimetype).

    ``url`` is ``url_private``: it needs the bot token to download, so it is a handle, not a
    public link. Files Slack withholds (``file_access: check_file_info``) have only an id.
    """
    if files is None:
        return []
    if not isinstance(files, list) or not all(isinstance(item, dict) for item in files):
        raise MalformedDelivery(f"{where}: files must be a list of objects")
    attachments = []
    for item in files:
        mime_type = text_field(item, "mimetype", f"{where} file")
        attachments.append(Attachment(
            kind=_file_kind(mime_type, text_field(item, "subtype", f"{where} file")),
            file_id=id_field(item, "id", f"{where} file", required=True),
            url=text_field(item, "url_private", f"{where} file"),
            mime_type=mime_type,
            name=text_field(item, "name", f"{where} file") or text_field(item, "title",
                                                                          f"{where} file"),
        ))
    return attachments


def plain(**values) -> dict:
    """``values`` without the None ones (for :attr:`orqo.messages.Message.extra`)."""
    return {key: value for key, value in values.items() if value is not None}
