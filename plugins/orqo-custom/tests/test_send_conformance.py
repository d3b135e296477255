"""The kit's send-stage conformance suite (orqo.testing.sending) run against the custom
adapter, its reply URL on the kit's fake platform."""
import orqo_custom
from orqo_custom.conformance import REPLY_PATH
from orqo_custom.conformance import ReplyConformance


class TestCustomSendConformance(ReplyConformance):
    plugin = orqo_custom
    platform = "custom"

    def app_config(self, base_url):
        return {"reply_url": base_url + REPLY_PATH}
