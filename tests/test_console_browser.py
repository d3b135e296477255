"""The console in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, installed by .ci/run) driven by Selenium, against a real gunicorn.

Skipped, with the reason, when the browser or its driver is missing.
"""
import json
import os
import re
import uuid

import pytest
import requests

from orqo.testing.server import CHECKOUT

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOT = CHECKOUT / "docs" / "console-deliveries.png"
SECRET = "console-test-signing-secret-2026"
WAIT = 30  # seconds a page may take to show what the test waits for (a busy CI machine)


def missing_browser() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(path) and os.access(path, os.X_OK)):
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture
def browser(tmp_path):
    """A headless Chromium, closed after the test."""
    reason = missing_browser()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1200,900", "--no-first-run",
                     f"--user-data-dir={tmp_path / 'chromium'}", "--disable-extensions",
                     "--disable-background-networking", "--disable-sync",
                     "--disable-component-update"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture
def server(make_server):
    return make_server(workers=2)


def admin_token(server) -> str:
    return server.cli_json("tokens", "create", "--name", "console", "--scope", "admin")["token"]


def send_signed(webhook_url, sender, message_id, text="hello"):
    """POST a delivery signed as the custom adapter's sender would."""
    from orqo_custom.signatures import sign

    body = json.dumps({"id": message_id, "sender": sender, "text": text}).encode()
    return requests.post(webhook_url, data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-Signature-256": sign(SECRET, body)})


def wait_for(driver, condition):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(condition)


def test_operator_flow_in_the_browser(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import Select

    token = admin_token(server)
    # No page without a session: the deliveries page sends the browser to sign in.
    browser.get(f"{server.url}/console/deliveries")
    assert "/console/sign-in" in browser.current_url
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "sign-in").click()
    wait_for(browser, seen.title_contains("Deliveries"))
    cookie = browser.get_cookie("orqo_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and token not in cookie["value"]

    # Create an App with the custom adapter's fields; its full webhook URL is shown.
    browser.find_element(By.LINK_TEXT, "Apps").click()
    wait_for(browser, seen.element_to_be_clickable((By.ID, "new-app"))).click()
    adapter = wait_for(browser, seen.presence_of_element_located((By.ID, "adapter")))
    Select(adapter).select_by_value("custom")
    browser.find_element(By.ID, "choose-adapter").click()
    wait_for(browser, seen.presence_of_element_located((By.ID, "name"))).send_keys("demo")
    browser.find_element(By.ID, "credentials.signing_secret").send_keys(SECRET)
    browser.find_element(By.ID, "create-app").click()
    wait_for(browser, seen.title_contains("Apps"))
    url_input = browser.find_element(By.CSS_SELECTOR, "input.webhook-url")
    shown = url_input.get_attribute("value")
    # The URL to paste into the platform is built from PUBLIC_BASE_URL (its default here).
    assert re.fullmatch(r"http://127\.0\.0\.1:8000/api/v1/webhooks/[\w-]+", shown)
    app_id = shown.rsplit("/", 1)[1]
    webhook_url = f"{server.url}/api/v1/webhooks/{app_id}"
    assert SECRET not in browser.page_source

    # The deliveries page, left open, shows a new delivery without a reload.
    browser.find_element(By.LINK_TEXT, "Deliveries").click()
    wait_for(browser, seen.presence_of_element_located((By.CSS_SELECTOR, "#delivery-rows")))
    assert send_signed(webhook_url, "grace", "m1").json()["messages"][0]["outcome"] == \
        "unknown_sender"
    row = wait_for(browser, seen.presence_of_element_located((By.CSS_SELECTOR, "tr.delivery")))
    assert "unknown_sender" in row.text
    server.cli("contacts", "create", "--name", "Ada", "--channel", f"{app_id}=ada")
    send_signed(webhook_url, "ada", "m2", "deploy is done")
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.delivery")) == 2)
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.delivery")
    assert "routed" in rows[0].text and "unknown_sender" in rows[1].text  # newest first
    browser.save_screenshot(str(SCREENSHOT))

    # Open the unknown sender's delivery; register the sender; replay the message.
    rows[1].find_element(By.TAG_NAME, "a").click()
    wait_for(browser, seen.title_contains("Delivery"))
    assert "unknown_sender" in browser.find_element(By.CSS_SELECTOR, "tr.message").text
    server.cli("contacts", "create", "--name", "Grace", "--channel", f"{app_id}=grace")
    browser.find_element(By.CSS_SELECTOR, "button.replay").click()
    flash = wait_for(browser, seen.presence_of_element_located((By.CSS_SELECTOR, ".flash")))
    assert "replayed: routed" in flash.text
    assert "replay_of" in browser.page_source

    # Find Ada by her sender id, open her Contact page, change her Channel's sender id.
    browser.find_element(By.LINK_TEXT, "Contacts").click()
    wait_for(browser, seen.presence_of_element_located((By.ID, "contact-search"))).send_keys(
        "ada")
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.contact")) == 1)
    browser.find_element(By.CSS_SELECTOR, "tr.contact a.open-contact").click()
    sender = wait_for(browser, seen.presence_of_element_located((By.ID, "sender-0")))
    sender.clear()
    sender.send_keys("ada-2")
    browser.find_element(By.ID, "save-channels").click()
    flash = wait_for(browser, seen.presence_of_element_located((By.CSS_SELECTOR, ".flash")))
    assert "Channels saved." in flash.text
    assert browser.find_element(By.ID, "sender-0").get_attribute("value") == "ada-2"
    contact_path = browser.current_url.removeprefix(f"{server.url}/console/")

    # Phone width: the page fits the screen (wide tables scroll inside their box).
    browser.set_window_size(390, 844)
    for page in ("deliveries", contact_path, "waitboxes", "outbound"):
        browser.get(f"{server.url}/console/{page}")
        assert browser.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"), page

    # Sign out: the session is gone.
    browser.find_element(By.ID, "sign-out").click()
    wait_for(browser, seen.title_contains("Sign in"))
    browser.get(f"{server.url}/console/apps")
    assert "/console/sign-in" in browser.current_url


def test_real_server_refuses_posts_without_csrf_and_pages_without_session(server):
    token = admin_token(server)
    session = requests.Session()
    for path in ("/console/deliveries", "/console/apps", "/console/deliveries/rows"):
        response = session.get(server.url + path, allow_redirects=False, timeout=10)
        assert response.status_code == 302 and "/console/sign-in" in response.headers["Location"]
    sign_in = f"{server.url}/console/sign-in"
    page = session.get(sign_in, timeout=10).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    refused = session.post(sign_in, data={"token": token}, allow_redirects=False, timeout=10)
    assert refused.status_code == 400
    signed_in = session.post(sign_in, data={"token": token, "csrf_token": csrf},
                             allow_redirects=False, timeout=10)
    assert signed_in.status_code == 302
    delete = session.post(f"{server.url}/console/apps/{uuid.uuid4().hex}/delete",
                          allow_redirects=False, timeout=10)
    assert delete.status_code == 400
    out = session.post(f"{server.url}/console/sign-out", allow_redirects=False, timeout=10)
    assert out.status_code == 400
    assert session.get(f"{server.url}/console/deliveries", allow_redirects=False,
                       timeout=10).status_code == 200


def test_skips_cleanly_without_a_browser(monkeypatch):
    monkeypatch.setattr(os.path, "exists", lambda path: False)
    assert "chromium is not installed" in missing_browser()


def test_disable_then_enable_an_app_from_its_page(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen

    app = server.cli_json("apps", "create", "--name", "switch", "--adapter", "custom",
                          "--credential", f"signing_secret={SECRET}")
    webhook_url = f"{server.url}/api/v1/webhooks/{app['id']}"
    browser.get(f"{server.url}/console/sign-in")
    browser.find_element(By.ID, "token").send_keys(admin_token(server))
    browser.find_element(By.ID, "sign-in").click()
    wait_for(browser, seen.title_contains("Deliveries"))
    browser.get(f"{server.url}/console/apps/{app['id']}")
    # console.js shows the Copy button; the URL is in a readonly input either way.
    copy = wait_for(browser, seen.visibility_of_element_located((By.CSS_SELECTOR, "button.copy")))
    assert browser.find_element(By.ID, "webhook-url").get_attribute("value").endswith(app["id"])
    copy.click()
    wait_for(browser, lambda d: copy.text in ("Copy", "Copied"))

    browser.find_element(By.ID, "disable-app").click()
    state = wait_for(browser, seen.presence_of_element_located((By.CSS_SELECTOR, "#app-state.off")))
    assert state.text == "disabled"
    # Refused once the answering worker sees the change (within APP_CACHE_SECONDS, 0.5 s).
    answers = []
    wait_for(browser, lambda d: answers.append(send_signed(webhook_url, "ada", "off-1"))
             or answers[-1].status_code == 403)
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "app_disabled"

    browser.find_element(By.ID, "enable-app").click()
    wait_for(browser, seen.presence_of_element_located((By.CSS_SELECTOR, "#app-state.on")))
    # The other worker sees the change within APP_CACHE_SECONDS (0.5 s).
    wait_for(browser, lambda d: send_signed(webhook_url, "ada", "on-1").status_code == 200)

    browser.set_window_size(390, 844)
    browser.get(f"{server.url}/console/apps/{app['id']}")
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth")
