"""The forgery matrix.

Each first-party adapter runs orqo's conformance suite (:mod:`orqo.testing.conformance`),
whose forgery checks are: a wrong secret, one flipped byte, a stale and a future timestamp,
a missing, an empty and a repeated signature header, case-varied header names, a signature made
for another App, the same JSON re-serialised, and a captured delivery replayed later.
:func:`test_forgery_coverage_of_each_first_party_adapter` documents which of them apply to which
adapter, and checks that the table stays true.

The custom adapter's HMAC mode lets the App choose the algorithm, the encoding and the prefix,
so :func:`test_custom_hmac_forgery_matrix` runs the forgeries again for every combination.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
from pathlib import Path

import pytest

from orqo.testing import Harness
from orqo.testing.conformance import AdapterConformance
from orqo.testing.conformance import flip_one_byte
from orqo.testing.signers import hmac_headers

CHECKOUT = Path(__file__).resolve().parents[1]
SECRET = "forgery-matrix-secret-A"
OTHER_SECRET = "forgery-matrix-secret-B"
HEADER = "X-Hook-Signature"


# --- the custom adapter's HMAC variants -----------------------------------------------------

VARIANTS = [
    pytest.param("hmac-sha1", "hex", None, id="sha1-hex"),
    pytest.param("hmac-sha256", "hex", None, id="sha256-hex"),
    pytest.param("hmac-sha512", "hex", None, id="sha512-hex"),
    pytest.param("hmac-sha1", "base64", None, id="sha1-base64"),
    pytest.param("hmac-sha256", "base64", None, id="sha256-base64"),
    pytest.param("hmac-sha512", "base64", None, id="sha512-base64"),
    pytest.param("hmac-sha256", "hex", "", id="sha256-hex-no-prefix"),
    pytest.param("hmac-sha256", "base64", "v1=", id="sha256-base64-v1-prefix"),
]


def body_of(message_id: str) -> bytes:
    return json.dumps({"id": message_id, "sender": "user-7", "sender_name": "Zoë",
                       "text": "Überweisung bestätigt ✓ 💶", "thread": "t-9"},
                      ensure_ascii=False).encode()


def digest_text(secret: str, body: bytes, algorithm: str, encoding: str) -> str:
    digest = hmac.new(secret.encode(), body, algorithm.removeprefix("hmac-")).digest()
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


def forgeries(algorithm: str, encoding: str, prefix: str | None) -> dict:
    """Each forgery: ``name -> (body, header pairs)``, all made from a valid delivery."""
    name = algorithm.removeprefix("hmac-")
    real_prefix = f"{name}=" if prefix is None else prefix
    other_algorithm = "hmac-sha1" if algorithm != "hmac-sha1" else "hmac-sha256"
    other_encoding = "base64" if encoding == "hex" else "hex"

    def signed(body, secret=SECRET, **overrides):
        options = {"algorithm": algorithm, "encoding": encoding, "prefix": prefix, **overrides}
        return hmac_headers(secret, body, header=HEADER, **options)

    def value(body, secret=SECRET):
        return signed(body, secret)[HEADER]

    body = body_of("forged")
    reserialised = json.dumps(json.loads(body), separators=(",", ":")).encode()
    return {
        "wrong secret": (body, signed(body, OTHER_SECRET)),
        "one flipped byte": (flip_one_byte(body), signed(body)),
        "truncated signature": (body, {HEADER: value(body)[:-2]}),
        "another algorithm's digest": (body, {HEADER: real_prefix + digest_text(
            SECRET, body, other_algorithm, encoding)}),
        "the digest in another encoding": (body, {HEADER: real_prefix + digest_text(
            SECRET, body, algorithm, other_encoding)}),
        "another prefix": (body, {HEADER: ("sha256=" if real_prefix != "sha256=" else "v1=")
                                  + digest_text(SECRET, body, algorithm, encoding)}),
        "re-serialised JSON": (reserialised, signed(body)),
        "missing header": (body, {}),
        "empty header": (body, {HEADER: ""}),
        "repeated header": (body, [(HEADER, value(body)), (HEADER, value(body, OTHER_SECRET))]),
        "the default header instead": (body, {"X-Signature-256": value(body)}),
        **({"base64 with its case changed": (body, {HEADER: real_prefix + digest_text(
            SECRET, body, algorithm, encoding).swapcase()})} if encoding == "base64" else {}),
    }


@pytest.fixture
def custom_apps(make_app):
    """An app with the custom adapter (skipped when it is not installed)."""
    orqo_custom = pytest.importorskip("orqo_custom")
    return Harness(make_app(plugins=[orqo_custom]))


@pytest.mark.parametrize("algorithm,encoding,prefix", VARIANTS)
def test_custom_hmac_forgery_matrix(custom_apps, algorithm, encoding, prefix):
    config = {"signature_header": HEADER, "signature_algorithm": algorithm,
              "signature_encoding": encoding}
    if prefix is not None:
        config["signature_prefix"] = prefix
    app_id = custom_apps.add_app("custom", {"signing_secret": SECRET}, config)
    other_app = custom_apps.add_app("custom", {"signing_secret": OTHER_SECRET}, config,
                                    name="Other App")
    custom_apps.add_contact({app_id: "user-7", other_app: "user-7"}, name="Zoë")

    def post(body, headers, to=app_id):
        return custom_apps.deliver(to, body, headers)

    outcomes = {}
    for name, (body, headers) in forgeries(algorithm, encoding, prefix).items():
        response = post(body, headers)
        entry = custom_apps.ledger(app_id)[0]
        outcomes[name] = (response.status_code, entry["outcome"], len(entry["messages"]))
    # Made for another App: valid there, refused here.
    body = body_of("for-the-other-app")
    for_other = hmac_headers(OTHER_SECRET, body, header=HEADER, algorithm=algorithm,
                             encoding=encoding, prefix=prefix)
    assert post(body, for_other, other_app).status_code == 200
    response = post(body, for_other)
    entry = custom_apps.ledger(app_id)[0]
    outcomes["another App's signature"] = (response.status_code, entry["outcome"],
                                           len(entry["messages"]))
    assert outcomes == dict.fromkeys(outcomes, (401, "rejected_signature", 0))

    # The controls: the valid delivery is routed, with any header-name case; its replay is not.
    body = body_of("genuine")
    valid = hmac_headers(SECRET, body, header=HEADER, algorithm=algorithm, encoding=encoding,
                         prefix=prefix)
    assert post(body, valid).get_json()["messages"][0]["outcome"] == "routed"
    replay = post(body, {HEADER.upper(): valid[HEADER]})
    assert replay.get_json()["messages"][0]["outcome"] == "duplicate"
    if encoding == "hex":  # hex digits are case-blind; base64 is not (see the forgeries)
        upper = body_of("upper-hex")
        text = digest_text(SECRET, upper, algorithm, "hex").upper()
        real_prefix = algorithm.removeprefix("hmac-") + "=" if prefix is None else prefix
        assert post(upper, {HEADER.lower(): real_prefix + text}).status_code == 200
    routed = [m for d in custom_apps.ledger(app_id) for m in d["messages"]
              if m["outcome"] == "routed"]
    assert len(routed) == (2 if encoding == "hex" else 1)


def test_the_signer_used_here_agrees_with_hashlib():
    body = body_of("check")
    expected = "sha512=" + hmac.new(SECRET.encode(), body, hashlib.sha512).hexdigest()
    assert hmac_headers(SECRET, body, header=HEADER, algorithm="hmac-sha512")[HEADER] == expected


# --- what each first-party adapter covers ---------------------------------------------------

#: The conformance checks, by the forgery each one sends.
FORGERY_CHECKS = {
    "wrong secret": "test_conformance_wrong_secret_is_rejected",
    "one flipped byte": "test_conformance_flipped_byte_is_rejected",
    "stale timestamp": "test_conformance_stale_timestamp_is_rejected",
    "future timestamp": "test_conformance_future_timestamp_is_rejected",
    "missing header": "test_conformance_missing_signature_header_is_rejected",
    "empty header": "test_conformance_empty_signature_header_is_rejected",
    "repeated header": "test_conformance_repeated_signature_header_is_rejected",
    "case-varied names": "test_conformance_case_varied_header_names_are_accepted",
    "another App's signature": "test_conformance_delivery_signed_for_another_app_is_rejected",
    "re-serialised JSON": "test_conformance_reserialised_json_is_rejected",
    "replayed at once": "test_conformance_same_delivery_twice_is_routed_once",
    "replayed later": "test_conformance_delivery_replayed_later_is_not_routed_again",
}

#: What each adapter answers to each forgery: 401 (rejected, nothing stored but the ledger
#: row), 200 (accepted: header names are case-blind), dup (acknowledged, recorded
#: ``duplicate``, not routed), stale (401: past the timestamp window), n/a (the scheme has no
#: timestamp, or its secret does not cover the body). Columns in FORGERY_CHECKS' order.
COVERAGE = {
    "custom (hmac)": ("orqo_custom", "orqo-custom/tests/test_conformance.py",
                      "401 401 n/a n/a 401 401 401 200 401 401 dup dup"),
    "custom (standard-webhooks)": ("orqo_custom", "orqo-custom/tests/test_standard_webhooks.py",
                                   "401 401 401 401 401 401 401 200 401 401 dup stale"),
    "slack": ("orqo_slack", "orqo-slack/tests/test_conformance.py",
              "401 401 401 401 401 401 401 200 401 401 dup stale"),
    "whatsapp": ("orqo_whatsapp", "orqo-whatsapp/tests/test_whatsapp_conformance.py",
                 "401 401 n/a n/a 401 401 401 200 401 401 dup dup"),
    "telegram": ("orqo_telegram", "orqo-telegram/tests/test_telegram_conformance.py",
                 "401 n/a n/a n/a 401 401 401 200 401 n/a dup dup"),
    "remote (custom, served)": ("orqo_remote",
                                "orqo-remote/tests/test_conformance_via_adapter_server.py",
                                "401 401 n/a n/a 401 401 401 200 401 401 dup dup"),
}


def conformance_class(path: Path):
    """The AdapterConformance subclass a plugin's test module defines (loaded by path, under
    a name of its own, so that pytest does not collect it a second time here)."""
    spec = importlib.util.spec_from_file_location(f"forgery_coverage_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    [found] = [value for value in vars(module).values() if isinstance(value, type)
               and issubclass(value, AdapterConformance) and value is not AdapterConformance]
    return found


def expected_cells(suite) -> list[str]:
    """What the suite's checks assert for this adapter, from its scheme's properties."""
    body = "401" if suite.signs_body else "n/a"
    window = "401" if suite.timestamp_window is not None else "n/a"
    later = "stale" if suite.timestamp_window is not None else "dup"
    return ["401", body, window, window, "401", "401", "401", "200", "401", body, "dup", later]


@pytest.mark.parametrize("adapter", sorted(COVERAGE))
def test_forgery_coverage_of_each_first_party_adapter(adapter):
    module, test_file, row = COVERAGE[adapter]
    pytest.importorskip(module)
    path = CHECKOUT / "plugins" / test_file
    if not path.exists():
        pytest.skip(f"{test_file} is not in this checkout")
    suite = conformance_class(path)
    # Every forgery check runs as the suite defines it: none is overridden or switched off.
    for check in FORGERY_CHECKS.values():
        assert getattr(suite, check) is getattr(AdapterConformance, check), (adapter, check)
    assert suite.signature_headers, adapter
    assert dict(zip(FORGERY_CHECKS, row.split())) == dict(zip(FORGERY_CHECKS,
                                                              expected_cells(suite)))


def test_print_the_forgery_matrix():
    """The matrix as a table for docs/reliability.md (``pytest -s``)."""
    print("\n| adapter | " + " | ".join(FORGERY_CHECKS) + " |")
    print("|---" * (len(FORGERY_CHECKS) + 1) + "|")
    for adapter, (_module, _path, row) in COVERAGE.items():
        print(f"| {adapter} | " + " | ".join(row.split()) + " |")
    assert all(len(row.split()) == len(FORGERY_CHECKS) for _m, _p, row in COVERAGE.values())
