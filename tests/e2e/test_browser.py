"""A real browser (Debian's Chromium, driven by Playwright) against the deployed stack through the edge: the
SPA and the backend's Swagger UI work under the edge's Content-Security-Policy, with no CSP violation and no
script error."""

import shutil
import time

import pytest
from playwright.sync_api import sync_playwright

from conftest import request

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BASE = "https://localhost"
# Without the background-networking flags Chromium keeps calling Google's services, which this closed
# network refuses; the sandbox needs user namespaces a root CI container does not give.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-default-apps"]
# Every CSP violation and uncaught error of the page, collected in the page itself.
WATCH = """
window.__problems = [];
document.addEventListener('securitypolicyviolation',
    e => window.__problems.push(`CSP ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} in ${e.sourceFile}`));
window.addEventListener('error', e => window.__problems.push(`error: ${e.message}`));
"""


@pytest.fixture(scope="module")
def browser(deployed):
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    # The local stack's certificate is self-signed; TLS itself is tested by the edge's integration tests.
    context = browser.new_context(ignore_https_errors=True)
    context.add_init_script(WATCH)
    page = context.new_page()
    console = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    page.console_errors = console
    yield page
    context.close()


def problems(page):
    return page.evaluate("window.__problems") + page.console_errors


def test_spa_lists_and_adds_an_item(page):
    name = f"browser-{int(time.time())}"
    response = page.goto(BASE + "/")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.get_by_test_id("version").wait_for()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Description (optional)").fill("added in Chromium")
    page.get_by_role("button", name="Add item").click()
    page.locator(".items li", has_text=name).wait_for(timeout=15_000)
    status, _, body = request("GET", "/api/items")
    assert status == 200 and name.encode() in body
    assert problems(page) == []


def test_swagger_ui_through_the_edge(page):
    response = page.goto(BASE + "/api/docs/")
    assert page.url == BASE + "/api/docs/swagger-ui/index.html"
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.locator(".opblock-summary-path", has_text="/api/items/{id}").wait_for(timeout=20_000)
    assert "/api/info" in page.locator(".opblock-summary-path").all_inner_texts()
    # "Try it out" calls the API from the page, through the edge (the document's server is "/").
    page.locator(".opblock-get", has_text="/api/info").locator(".opblock-summary").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    live = page.locator(".live-responses-table tbody td.response-col_status").first
    live.wait_for(timeout=15_000)
    assert live.inner_text().strip() == "200"
    assert problems(page) == []

