"""The database tables, one module per part of the product; import them from here.

* :mod:`orqo.models.apps`: Apps, Contacts, Contact Channels, and the revision counters;
* :mod:`orqo.models.ledger`: deliveries and their messages, and the counts of rejections;
* :mod:`orqo.models.routing`: waitboxes, Doorkeeper conversations, sessions and entries;
* :mod:`orqo.models.tokens`: API tokens;
* :mod:`orqo.models.workflows`: workflows, runs, triggers, idempotency keys, rate counters;
* :mod:`orqo.models.outbox`: pushes to the agent runtime and their attempts;
* :mod:`orqo.models.sending`: the send queue of the messages agents send through platforms;
* :mod:`orqo.models.base`: shared column types and time helpers.
"""
from orqo.models.apps import App
from orqo.models.apps import Contact
from orqo.models.apps import ContactChannel
from orqo.models.apps import Revision
from orqo.models.base import BigId
from orqo.models.base import as_utc
from orqo.models.base import new_app_id
from orqo.models.base import utcnow
from orqo.models.ledger import DELIVERY_OUTCOMES
from orqo.models.ledger import DIRECTIONS
from orqo.models.ledger import MESSAGE_OUTCOMES
from orqo.models.ledger import Delivery
from orqo.models.ledger import MessageRecord
from orqo.models.ledger import Rejection
from orqo.models.outbox import PushAttempt
from orqo.models.outbox import PushDelivery
from orqo.models.routing import ENTRY_STATUSES
from orqo.models.routing import Conversation
from orqo.models.routing import ConversationEntry
from orqo.models.routing import ConversationSession
from orqo.models.routing import Waitbox
from orqo.models.sending import SEND_STATUSES
from orqo.models.sending import Send
from orqo.models.sending import SendAttempt
from orqo.models.tokens import ApiToken
from orqo.models.workflows import RUN_STATUSES
from orqo.models.workflows import AppEventTrigger
from orqo.models.workflows import IdempotencyRecord
from orqo.models.workflows import RateCounter
from orqo.models.workflows import WebhookTrigger
from orqo.models.workflows import Workflow
from orqo.models.workflows import WorkflowRun

__all__ = [
    "AppEventTrigger", "IdempotencyRecord", "RUN_STATUSES", "RateCounter", "WebhookTrigger",
    "Workflow", "WorkflowRun",
    "ApiToken", "ConversationSession", "ENTRY_STATUSES", "PushAttempt", "PushDelivery",
    "App", "BigId", "Contact", "ContactChannel", "Conversation", "ConversationEntry",
    "DELIVERY_OUTCOMES", "Delivery", "MESSAGE_OUTCOMES", "MessageRecord", "Rejection",
    "Revision", "Waitbox", "as_utc", "DIRECTIONS", "SEND_STATUSES", "Send", "SendAttempt",
    "new_app_id", "utcnow",
]
