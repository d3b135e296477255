"""Each hook, the plugin manager's rules, and a meta-test that every hook has a test here."""
import sys

import pytest

from orqo import create_app
from orqo import hookimpl
from orqo.adapters import Adapter
from orqo.errors import ConfigError
from orqo.handlers import Route
from orqo.hookspecs import __name__ as hookspecs_module
from orqo.plugins import make_plugin_manager
from orqo.stages import ParseResult
from orqo.stages import SendResult
from orqo.stages import Verdict
from orqo.testing import Harness
from tests.conftest import TOKEN
from tests.plugins import fake_adapter
from tests.plugins.fake_adapter import delivery


class Named:
    """Give an inline plugin object a readable name in errors."""

    def __init__(self, name, **hooks):
        self.__name__ = name
        for hook_name, function in hooks.items():
            setattr(self, hook_name, hookimpl(function))


def fake_harness(make_app, *plugins):
    harness = Harness(make_app(plugins=[fake_adapter, *plugins]))
    harness.app_id = harness.add_app("fake", {"token": TOKEN})
    harness.add_contact({harness.app_id: "ada"})
    harness.headers = {"X-Fake-Token": TOKEN}
    return harness


# --- register_adapters --------------------------------------------------------------------

def test_hook_register_adapters(make_app):
    app = make_app(plugins=[fake_adapter])
    assert "fake" in app.extensions["orqo"].adapters
    assert app.extensions["orqo"].adapter_plugins["fake"].endswith("fake_adapter")


def test_two_plugins_claiming_one_platform_fail_naming_both(make_app):
    class Impostor(fake_adapter.FakeAdapter):
        pass

    impostor = Named("impostor_plugin", register_adapters=lambda register: register(Impostor))
    with pytest.raises(ConfigError) as excinfo:
        make_app(plugins=[fake_adapter, impostor])
    message = str(excinfo.value)
    assert "impostor_plugin" in message and "fake_adapter" in message and "'fake'" in message


def test_registering_something_that_is_not_an_adapter_fails(make_app):
    bad = Named("bad_plugin", register_adapters=lambda register: register(object))
    with pytest.raises(ConfigError, match="bad_plugin"):
        make_app(plugins=[bad])


def test_invalid_platform_name_fails(make_app):
    class Shouty(fake_adapter.FakeAdapter):
        platform = "Not Valid"

    bad = Named("shouty", register_adapters=lambda register: register(Shouty))
    with pytest.raises(ConfigError, match="invalid platform name"):
        make_app(plugins=[bad])


# --- startup -------------------------------------------------------------------------------

def test_hook_startup(make_app):
    seen = []
    make_app(plugins=[Named("starter", startup=lambda app: seen.append(app.name))])
    assert seen == ["orqo"]


def test_failing_startup_names_the_plugin(make_app):
    def explode(app):
        raise RuntimeError("boom")

    with pytest.raises(ConfigError, match="exploder"):
        make_app(plugins=[Named("exploder", startup=explode)])


# --- verify_webhook ------------------------------------------------------------------------

def test_hook_verify_webhook_lets_any_plugin_veto(make_app):
    def deny_mallory(request, adapter):
        if b"mallory" in request.body:
            return Verdict.reject("sender blocked by the allow-list", status=403)
        return None

    harness = fake_harness(make_app, Named("allowlist", verify_webhook=deny_mallory))
    blocked = harness.deliver(harness.app_id, delivery({"sender": "mallory", "id": "1"}),
                              harness.headers)
    assert blocked.status_code == 403
    assert harness.ledger()[0]["reason"] == "sender blocked by the allow-list"
    allowed = harness.deliver(harness.app_id, delivery({"sender": "ada", "id": "2"}), harness.headers)
    assert allowed.status_code == 200


def test_hook_verify_webhook_is_called_through_pluggy_so_wrappers_wrap_it(make_app):
    seen = []

    class Timing:
        __name__ = "timing"

        @hookimpl(wrapper=True)
        def verify_webhook(self, request, adapter):
            seen.append(("before", adapter.platform))
            answers = yield
            seen.append(("after", answers))
            return answers

    harness = fake_harness(make_app, Timing())
    response = harness.deliver(harness.app_id, delivery({"sender": "ada", "id": "1"}),
                               harness.headers)
    assert response.status_code == 200
    assert seen == [("before", "fake"), ("after", [])]


def test_a_plugin_cannot_accept_for_the_apps_adapter(make_app):
    yes_man = Named("yes_man", verify_webhook=lambda request, adapter: Verdict.accept())
    harness = fake_harness(make_app, yes_man)
    response = harness.deliver(harness.app_id, delivery({"sender": "ada", "id": "1"}),
                               {"X-Fake-Token": "forged"})
    assert response.status_code == 401


def test_verify_plugin_that_raises_is_adapter_error_naming_it(make_app):
    def explode(request):
        raise RuntimeError("allow-list database is down")

    harness = fake_harness(make_app, Named("flaky_allowlist", verify_webhook=explode))
    response = harness.deliver(harness.app_id, delivery({"sender": "ada", "id": "1"}),
                               harness.headers)
    assert response.status_code == 503
    assert "flaky_allowlist" in harness.ledger()[0]["reason"]


# --- parse_webhook -------------------------------------------------------------------------

def test_hook_parse_webhook_observers_see_each_delivery_but_cannot_parse(make_app):
    seen = []

    def observe(request, adapter):
        seen.append((adapter.platform, request.body))
        return ParseResult(messages=[])  # ignored: only the App's adapter parses

    harness = fake_harness(make_app, Named("observer", parse_webhook=observe))
    body = delivery({"sender": "ada", "id": "1"})
    response = harness.deliver(harness.app_id, body, harness.headers)
    assert response.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    assert seen == [("fake", body)]


# --- route_message -------------------------------------------------------------------------

def test_hook_route_message_a_plugin_handler_can_take_messages(make_app):
    def take_urgent(message, context):
        if message.text.startswith("URGENT"):
            return Route("urgent", message.dedupe_key, details={"contact": context.contact_id})
        return None

    harness = fake_harness(make_app, Named("urgent_desk", route_message=take_urgent))
    body = delivery({"sender": "ada", "id": "1", "text": "URGENT: call me"},
                    {"sender": "ada", "id": "2", "text": "hello"})
    response = harness.deliver(harness.app_id, body, harness.headers)
    assert [m["handler"] for m in response.json["messages"]] == ["urgent", "doorkeeper"]
    assert [m["handler_ref"] for m in harness.ledger()[0]["messages"]][0] == "1"


def test_failing_handler_is_skipped_even_after_reading_through_the_session(make_app):
    from orqo.extensions import db
    from orqo.models import Contact

    def read_then_fail(message, context):
        db.session.query(Contact).count()  # a read begins a transaction on the ORM session
        raise RuntimeError("handler bug")

    harness = fake_harness(make_app, Named("buggy_handler", route_message=read_then_fail))
    response = harness.deliver(harness.app_id, delivery({"sender": "ada", "id": "1"}),
                               harness.headers)
    assert response.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]


def test_handler_returning_garbage_is_skipped(make_app):
    garbage = Named("garbage", route_message=lambda message: "not a Route")
    bad_outcome = Named("bad_outcome", route_message=lambda message: Route("x", outcome="maybe"))
    harness = fake_harness(make_app, garbage, bad_outcome)
    response = harness.deliver(harness.app_id, delivery({"sender": "ada", "id": "1"}),
                               harness.headers)
    assert response.json["messages"][0]["handler"] == "doorkeeper"


def test_route_message_hook_wrappers_are_refused_at_startup(make_app):
    class Wrapping:
        __name__ = "wrapping_handler"

        @hookimpl(wrapper=True)
        def route_message(self, message):
            return (yield)

    with pytest.raises(ConfigError, match="wrapping_handler"):
        make_app(plugins=[Wrapping()])


# --- the manager ---------------------------------------------------------------------------

def test_entry_point_plugins_load_and_can_be_blocked(tmp_path, monkeypatch):
    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    loaded = create_app({"DATABASE_URL": url})
    assert "custom" in loaded.extensions["orqo"].adapters
    monkeypatch.setenv("ORQO_DISABLED_PLUGINS", "custom")
    blocked = create_app({"DATABASE_URL": url})
    assert "custom" not in blocked.extensions["orqo"].adapters


def test_built_in_plugins_cannot_be_blocked():
    with pytest.raises(ConfigError, match="cannot be disabled"):
        make_plugin_manager(load_entrypoints=False,
                            blocked=["orqo.default_plugins.waitbox"])


def test_unknown_hook_implementation_fails_at_startup(make_app):
    with pytest.raises(ConfigError, match="verify_webhok"):
        make_app(plugins=[Named("typo", verify_webhok=lambda request: None)])


def test_every_hook_has_a_test():
    pm = make_plugin_manager(load_entrypoints=False)
    hooks = {name for name in dir(pm.hook) if not name.startswith("_")}
    tests = {name for name in dir(sys.modules[__name__]) if name.startswith("test_hook_")}
    missing = [hook for hook in sorted(hooks)
               if not any(test.startswith(f"test_hook_{hook}") for test in tests)]
    assert not missing, f"hooks without a test_hook_<name> test: {missing}"
    assert hookspecs_module == "orqo.hookspecs"


def test_adapter_base_class_requires_both_stages():
    class Half(Adapter):
        platform = "half"

        def verify(self, request):
            return Verdict.accept()

    with pytest.raises(TypeError):
        Half()


class SendGate:
    """Stops every message to ``ada``; holds every message while ``hold`` is set."""

    hold = False

    @hookimpl
    def send_message(self, request, adapter):
        if self.hold:
            return SendResult.retry("held by the gate", after=60)
        if request.recipient == "ada":
            return SendResult.failed("ada opted out")
        return None


def test_hook_send_message_can_stop_or_hold_a_message(make_app, clock):
    import requests_mock

    from tests.test_outbound import message, queue, sending_harness, work

    gate = SendGate()
    agent = sending_harness(make_app(plugins=[fake_adapter, gate]))
    with requests_mock.Mocker() as platform:
        gate.hold = True
        queued = queue(agent).json
        work(agent)
        held = message(agent, queued["id"])
        assert (held["status"], held["last_error"]) == ("queued", "held by the gate")
        gate.hold = False
        clock.shift(61)
        work(agent)
        stopped = message(agent, queued["id"])
        assert (stopped["status"], stopped["last_error"]) == ("failed", "ada opted out")
        assert not platform.called  # the platform never saw it
