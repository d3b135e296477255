"""A remote App passes the kit's send conformance suite, its adapter being the custom one served
by orqo's adapter server in-process (requests-mock hands the calls to the adapter's URL to the
server's test client), and the custom App's reply URL the kit's fake platform on loopback."""
import orqo_custom
import orqo_remote
import pytest
import requests_mock
from orqo_custom.conformance import REPLY_PATH
from orqo_custom.conformance import ReplyConformance
from orqo_remote.testing import serve_through

from orqo.adapter_server import create_adapter_app

ADAPTER_URL = "https://custom-adapter.example"


class TestRemoteCustomSendConformance(ReplyConformance):
    plugin = orqo_remote
    platform = "remote"

    @pytest.fixture(autouse=True)
    def _adapter_served(self):
        # real_http: the served adapter's own calls (to the fake platform) go out for real.
        with requests_mock.Mocker(real_http=True) as mock:
            serve_through(mock, ADAPTER_URL, create_adapter_app(
                "custom", load_entrypoints=False, plugins=[orqo_custom]))
            yield

    def app_config(self, base_url):
        return {"url": ADAPTER_URL, "adapter_config": {"reply_url": base_url + REPLY_PATH}}
