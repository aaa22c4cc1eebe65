"""The API in a browser: Swagger UI at /docs of `make run`, in headless Chromium.

Debian's chromium (`apt-get install -y chromium`, which .ci/run does) driven by Playwright; no
browser is downloaded. Every request the page makes must stay on the gateway's origin (the
assets are the pinned package's, the document and the calls the gateway's). With
UPDATE_SCREENSHOTS=1 (`make screenshots`) the test refreshes docs/swagger-ui.png for the README;
otherwise it writes its screenshot under pytest's temporary directory, so a test run leaves
the work tree as it was.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from local_gateway.__main__ import port_in_use
from local_gateway.client import LOCAL_TOKEN
from local_gateway.docs_ui import DocsUI, bearer_scheme
from local_gateway.process import GatewayProcess
from tests.support import log_tap

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = ROOT / "docs" / "swagger-ui.png"
# The launch flags that work on these machines: no sandbox (root), no GPU, nothing fetched.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[GatewayProcess, list[str]]]:
    lines: list[str] = []
    keep = log_tap.keeping(lines)

    # The README's picture shows the default URL when it is free; tests take any free port.
    args = ["--port", "3000"] if os.environ.get("UPDATE_SCREENSHOTS") and not port_in_use(3000) else []
    running = GatewayProcess.start(workers=2, on_output=keep, args=args)
    yield running, lines
    assert running.stop() == 0


# -- the page's parts, over HTTP ---------------------------------------------------------------


def test_docs_page_and_its_assets_come_from_the_gateway(gateway: tuple[GatewayProcess, list[str]]) -> None:
    running, _ = gateway
    # Given the local gateway
    with httpx.Client(base_url=running.url, timeout=10) as client:
        # When the page is loaded
        page = client.get("/docs")
        # Then it is Swagger UI, its scripts and styles from the gateway itself
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        # (the favicon is inlined: API Gateway would mangle a binary answer of a deployed stack's)
        assets = [link for link in links if not link.startswith("data:image/png;base64,")]
        assert assets
        assert len(links) == len(assets) + 1
        assert all(a.startswith("/docs/") for a in assets), assets
        for asset in assets:
            answer = client.get(asset)
            assert answer.status_code == 200, asset
            assert answer.content
        bundle = client.get("/docs/swagger-ui-bundle.js")
        assert bundle.headers["content-type"].startswith("text/javascript")
        assert b"SwaggerUIBundle" in bundle.content


def test_the_document_points_at_this_gateway_and_the_token_is_prefilled(
    gateway: tuple[GatewayProcess, list[str]],
) -> None:
    running, _ = gateway
    with httpx.Client(base_url=running.url, timeout=10) as client:
        # When the page's document and initializer are fetched
        document = client.get("/docs/openapi.json").json()
        initializer = client.get("/docs/swagger-initializer.js").text

    # Then the document is docs/openapi.json with this gateway as its server
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert document["servers"] == [{"url": running.url, "description": "this local gateway (make run)"}]
    assert document["paths"] == committed["paths"]
    # And the bearer scheme is authorised with the local token, and no validator is called
    assert f'preauthorizeApiKey(scheme, "{LOCAL_TOKEN}")' in initializer
    assert f'const scheme = "{bearer_scheme(committed)}";' in initializer
    assert "validatorUrl: null" in initializer


def test_docs_paths_outside_the_ui_are_api_gateway_404s(gateway: tuple[GatewayProcess, list[str]]) -> None:
    running, _ = gateway
    with httpx.Client(base_url=running.url, timeout=10) as client:
        # When a file the package does not hold, a path escaping the folder, or a write is asked
        for method, path in [
            ("GET", "/docs/nothing-here.js"),
            ("GET", "/docs/..%2F..%2Fpyproject.toml"),
            ("GET", "/docs/vendor/swagger-ui.css"),
            ("POST", "/docs"),
        ]:
            answer = client.request(method, path)
            # Then API Gateway's own 404 answers, as for any path without a route
            assert answer.status_code == 404, (method, path)
            assert answer.json()["StatusCode"] == 404


def test_head_answers_headers_only(gateway: tuple[GatewayProcess, list[str]]) -> None:
    running, _ = gateway
    with httpx.Client(base_url=running.url, timeout=10) as client:
        head = client.head("/docs/swagger-ui.css")
        # And the connection is still usable afterwards (no stray body on it)
        after = client.get("/docs")
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) > 1000
    assert after.status_code == 200


def test_a_host_header_not_on_loopback_does_not_become_the_server() -> None:
    # Given the docs of a gateway on 127.0.0.1:3000
    docs = DocsUI(token=LOCAL_TOKEN, gateway_url="http://127.0.0.1:3000")
    # When the document is asked for with another Host (DNS rebinding, a proxy)
    answer = docs.answer("GET", "/docs/openapi.json", "attacker.example:80")
    # Then its server stays the gateway's own URL
    assert answer is not None
    assert b'"url": "http://127.0.0.1:3000"' in answer.body
    # While localhost, as the browser reached it, is kept (same origin for "Try it out")
    local = docs.answer("GET", "/docs/openapi.json", "localhost:3000")
    assert local is not None
    assert b'"url": "http://localhost:3000"' in local.body


# -- in the browser ----------------------------------------------------------------------------


def _chromium() -> Path:
    if not CHROMIUM.exists():
        message = "Debian's chromium is needed: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it (.ci/run): missing there is a failure
        pytest.skip(message)
    return CHROMIUM


def test_try_it_out_in_swagger_ui_answers_from_the_sandbox(
    gateway: tuple[GatewayProcess, list[str]], tmp_path: Path
) -> None:
    from playwright.sync_api import FloatRect, sync_playwright

    running, lines = gateway
    chromium = _chromium()
    elsewhere: list[str] = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(chromium),
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            page = context.new_page()
            page.on("request", lambda r: None if r.url.startswith(running.url) else elsewhere.append(r.url))

            # Given Swagger UI at /docs
            page.goto(f"{running.url}/docs")
            operation = page.locator("#operations-Customer_profiles-getCustomerInventory")
            operation.wait_for(timeout=30_000)
            # When getCustomerInventory is tried out for advocate-1 (the sandbox's seed)
            operation.locator(".opblock-summary").click()
            operation.get_by_role("button", name="Try it out").click()
            operation.locator('tr[data-param-name="integrationId"] input').fill("advocate-1")
            operation.locator('tr[data-param-name="profile"] select').select_option("true")
            operation.get_by_role("button", name="Execute").click()

            # Then the sandbox's answer is in the page: 200, with the profile
            status = operation.locator(".live-responses-table .response .response-col_status").first
            status.wait_for(timeout=30_000)
            assert status.inner_text().strip() == "200"
            body = operation.locator(".live-responses-table .response-col_description pre").first
            assert '"integrationId": "advocate-1"' in body.inner_text()
            # And the request carried the pre-filled token to this gateway
            curl = operation.locator(".curl-command").inner_text()
            assert f"Bearer {LOCAL_TOKEN}" in curl
            assert f"{running.url}/v1/customer_profiles/advocate-1/inventory?profile=true" in curl

            # The picture: the operation from its summary to the live answer (its response
            # schemas below are left out).
            target = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path / SCREENSHOT.name
            top = operation.locator(".opblock-summary").bounding_box()
            bottom = operation.locator(".live-responses-table").bounding_box()
            assert top is not None
            assert bottom is not None
            height = min(bottom["y"] + bottom["height"] - top["y"] + 16, 2000)
            scrolled = float(page.evaluate("window.scrollY"))  # boxes are the viewport's, clips the page's
            clip: FloatRect = {
                "x": top["x"] - 8,
                "y": top["y"] + scrolled - 8,
                "width": top["width"] + 16,
                "height": height,
            }
            page.screenshot(path=str(target), clip=clip, full_page=True)
            assert target.stat().st_size > 10_000
        finally:
            context.close()

    # And nothing was fetched from anywhere else (no CDN, no validator)
    assert elsewhere == []
    # And the access log has the call as a route, never the customer id in its path
    # (written after the reply, through a pipe: it may trail the page by a moment)
    deadline = time.monotonic() + 10
    while (
        not any(" GET /v1/customer_profiles/{integrationId}/inventory 200 " in line for line in lines)
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    calls = [line for line in lines if " GET /v1/customer_profiles/" in line]
    assert any(" GET /v1/customer_profiles/{integrationId}/inventory 200 " in c for c in calls), lines[-20:]
    assert not any("advocate-1" in c for c in calls)
