"""The console's delivery page in a real browser (headless Chromium against a real gunicorn,
the fixtures of tests/test_console_browser.py): an attacker's body is shown as text, never run,
secrets are redacted, and the page fits a phone's width however long the body's lines."""
import json

import pytest
import requests

from tests.test_console_browser import SECRET
from tests.test_console_browser import admin_token
from tests.test_console_browser import browser  # noqa: F401 - a fixture
from tests.test_console_browser import server  # noqa: F401 - a fixture
from tests.test_console_browser import wait_for

API_KEY = "key-that-must-never-show-2026"


def test_the_delivery_page_shows_an_attackers_body_as_text_at_phone_width(browser, server):  # noqa: F811
    from orqo_custom.signatures import sign
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen

    app_id = server.cli_json("apps", "create", "--name", "demo", "--adapter", "custom",
                             "--credential", f"signing_secret={SECRET}")["id"]
    text = "<script>alert(1)</script><img src=x onerror=alert(2)>" + "x" * 600
    body = json.dumps({"id": "m1", "sender": "grace", "text": text}).encode()
    answer = requests.post(f"{server.url}/api/v1/webhooks/{app_id}", data=body, timeout=10,
                           headers={"Content-Type": "application/json", "X-Api-Key": API_KEY,
                                    "X-Signature-256": sign(SECRET, body)})
    assert answer.status_code == 200, answer.text
    delivery_id = answer.json()["delivery_id"]

    browser.set_window_size(390, 844)
    browser.get(f"{server.url}/console/sign-in?next=/console/deliveries/{delivery_id}")
    browser.find_element(By.ID, "token").send_keys(admin_token(server))
    browser.find_element(By.ID, "sign-in").click()
    shown = wait_for(browser, seen.presence_of_element_located(
        (By.CSS_SELECTOR, "pre.delivery-body")))
    assert "<script>alert(1)</script>" in shown.text  # shown as text...
    with pytest.raises(NoAlertPresentException):  # ...never run
        browser.switch_to.alert  # noqa: B018
    assert not browser.find_elements(By.CSS_SELECTOR, "main img")
    headers = browser.find_element(By.CSS_SELECTOR, "table.headers").text
    assert "X-Api-Key [redacted]" in headers and "X-Signature-256" in headers
    assert API_KEY not in browser.page_source
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth")
