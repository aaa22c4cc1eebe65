"""Swagger UI on a deployed stack (EnableDocs=true): DocsFunction's handler, in-process, with
events/docs.json and its variants, as API Gateway would invoke it.

The page and its files come from the layer's talon_gateway.api.docs_ui (the local gateway's
/docs serves the same, tests/test_browser.py); what is checked here is what differs once
deployed: the stage's paths and URL, no token anywhere, API Gateway's own 404 for everything else.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from typing import Any
from urllib.parse import quote

import pytest

from local_gateway.client import LOCAL_TOKEN
from local_gateway.functions import LambdaContext, load_handler
from local_gateway.template import ROOT, FunctionSpec, functions, gateway_responses
from talon_gateway.api import docs_ui
from tests.conftest import load_event

STAGE_URL = "https://abcdef1234.execute-api.eu-west-1.amazonaws.com/v1"
DOCS = next(s for s in functions(parameters={"EnableDocs": "true"}) if s.logical_id == "DocsFunction")


def event_for(name: str | None, method: str = "GET", **context: str) -> dict[str, Any]:
    """events/docs.json for /docs (``name`` None) or /docs/{proxy+} with ``name`` as the proxy value
    (percent-encoded in the path as the browser sent it, decoded in pathParameters)."""
    event = load_event("docs")
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    if name is not None:
        path = f"/docs/{quote(name, safe='/')}"
        event["resource"] = event["requestContext"]["resourcePath"] = "/docs/{proxy+}"
        event["path"] = path
        event["requestContext"]["path"] = f"/v1{path}"
        event["pathParameters"] = {"proxy": name}
    event["requestContext"].update(context)
    return event


def call(event: dict[str, Any], spec: FunctionSpec = DOCS) -> dict[str, Any]:
    return load_handler(spec)(copy.deepcopy(event), LambdaContext(function_name=spec.logical_id))


def get(name: str | None, **context: str) -> dict[str, Any]:
    return call(event_for(name, **context))


def test_the_event_file_is_the_page_of_the_stage() -> None:
    # Given events/docs.json: GET /docs on stage v1, as a browser asks
    event = load_event("docs")
    assert (event["httpMethod"], event["resource"]) == ("GET", "/docs")
    assert event["requestContext"]["path"] == "/v1/docs"
    # When DocsFunction's handler, as template.yaml names it, is invoked with it
    answer = call(event)
    # Then Swagger UI's page answers, under the stage's CSP (this origin only), never cached
    assert answer["statusCode"] == 200
    assert answer["isBase64Encoded"] is False
    headers = answer["headers"]
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"] == docs_ui.CSP
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Correlation-Id"] == event["requestContext"]["requestId"]
    # And everything it links is under the stage's /docs (no CDN), the favicon inlined
    links = re.findall(r'(?:src|href)="([^"]+)"', answer["body"])
    files = [link for link in links if not link.startswith("data:image/png;base64,")]
    assert sorted(files) == [
        "/v1/docs/index.css",
        "/v1/docs/swagger-initializer.js",
        "/v1/docs/swagger-ui-bundle.js",
        "/v1/docs/swagger-ui.css",
    ]
    assert len(links) == len(files) + 1


def test_every_file_the_page_links_is_served_as_text() -> None:
    page = get(None)["body"]
    for link in re.findall(r'(?:src|href)="/v1/docs/([^"]+)"', page):
        answer = get(link)
        assert answer["statusCode"] == 200, link
        assert answer["isBase64Encoded"] is False
        assert answer["body"], link
        assert answer["headers"]["Content-Security-Policy"] == docs_ui.CSP
        assert answer["headers"]["Content-Type"].endswith("; charset=utf-8")
    bundle = get("swagger-ui-bundle.js")
    assert bundle["headers"]["Content-Type"] == "text/javascript; charset=utf-8"
    assert bundle["headers"]["Cache-Control"] == "max-age=3600"
    assert "SwaggerUIBundle" in bundle["body"]
    # The bundle is the pinned package's file, byte for byte (and under Lambda's 6 MB answer)
    assert bundle["body"].encode() == (docs_ui.assets() / "swagger-ui-bundle.js").read_bytes()
    assert len(bundle["body"].encode()) < 6 * 1024 * 1024
    assert get("swagger-ui.css")["headers"]["Content-Type"] == "text/css; charset=utf-8"


def test_the_document_is_the_gateways_with_this_stage_as_its_server() -> None:
    answer = get("openapi.json")
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"] == "application/json"
    document = json.loads(answer["body"])
    # Then it is docs/openapi.json (the copy DocsFunction ships is the same)...
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    shipped = ROOT / "functions" / "docs" / "openapi.json"
    assert shipped.read_bytes() == (ROOT / "docs" / "openapi.json").read_bytes()
    assert document["paths"] == committed["paths"]
    assert document["components"] == committed["components"]
    # ...with the stage the request came by as its only server (Try it out calls it)
    assert document["servers"] == [{"url": STAGE_URL, "description": "this stage of the gateway"}]


def test_a_custom_domain_and_its_base_path_are_kept() -> None:
    # Given the API behind a custom domain, mapped under /payments
    event = event_for("openapi.json", domainName="gateway.example.com")
    event["requestContext"]["path"] = "/payments/docs/openapi.json"
    document = json.loads(call(event)["body"])
    assert document["servers"][0]["url"] == "https://gateway.example.com/payments"
    # And the page links its files under that path
    page = event_for(None, domainName="gateway.example.com", path="/payments/docs")
    assert 'src="/payments/docs/swagger-ui-bundle.js"' in call(page)["body"]
    # A custom domain without a base path: the API at the domain's root
    root = event_for("openapi.json", domainName="gateway.example.com", path="/docs/openapi.json")
    assert json.loads(call(root)["body"])["servers"][0]["url"] == "https://gateway.example.com"


def test_a_host_or_path_that_is_not_one_stays_out_of_the_page() -> None:
    # Given a domain name that is not a host name (API Gateway sets it; a test event could forge it)
    forged = event_for("openapi.json", domainName='x"><script>alert(1)</script>')
    forged["headers"]["Host"] = "evil.example"
    # Then the server is the stage's path alone, relative to where the page was loaded
    assert json.loads(call(forged)["body"])["servers"][0]["url"] == "/v1"
    # And a base path that is not a path's segments, or a request path the API's own does not
    # end, falls back to the stage
    for requested in ("/<b>/docs", "/v1/docs-x"):
        body = call(event_for(None, path=requested))["body"]
        assert 'src="/v1/docs/swagger-ui-bundle.js"' in body, requested
        assert "<b>" not in body


def test_nothing_is_prefilled_and_no_token_is_anywhere() -> None:
    initializer = get("swagger-initializer.js")
    assert initializer["statusCode"] == 200
    assert initializer["headers"]["Content-Type"] == "text/javascript; charset=utf-8"
    script = initializer["body"]
    # Then the initializer loads the stage's document and authorises nothing itself
    assert 'url: "/v1/docs/openapi.json",' in script
    assert "validatorUrl: null" in script
    assert "preauthorize" not in script
    assert "persistAuthorization" not in script  # a typed token is not kept in the browser
    # And no answer holds a token: not the local one, not any bearer value
    for name in (None, "index.html", "swagger-initializer.js", "openapi.json"):
        body = get(name)["body"]
        assert LOCAL_TOKEN not in body, name
        assert not re.search(r"Bearer [A-Za-z0-9]", body), name


PATHS_OUTSIDE_THE_UI = [
    "../../etc/passwd",  # /docs/..%2f..%2fetc/passwd, decoded by API Gateway
    "..%2f..%2fetc/passwd",  # or left encoded
    "../template.yaml",
    "/etc/passwd",
    "vendor/swagger-ui.css",
    "./swagger-ui.css",
    "SWAGGER-UI.CSS",
    "swagger-ui-bundle.js.map",  # in the package, not linked by the page
    "swagger-ui.js",
    "oauth2-redirect.html",
    "index.j2",
    "favicon-32x32.png",  # binary: inlined in the page instead
    "__init__.py",
    "nothing-here.js",
    "openapi.json/../../../template.yaml",
    "swagger-ui.css\x00.js",
]


@pytest.mark.parametrize("name", PATHS_OUTSIDE_THE_UI)
def test_anything_but_the_uis_files_is_api_gateways_404(name: str) -> None:
    answer = get(name)
    # Then API Gateway's own answer for a path without a route, as template.yaml shapes it
    assert answer["statusCode"] == 404, name
    missing = gateway_responses()["MISSING_AUTHENTICATION_TOKEN"]
    assert answer["body"].encode() == missing.render("Missing Authentication Token", "unused")
    assert json.loads(answer["body"])["StatusCode"] == 404
    assert answer["headers"]["Content-Type"] == "application/json"
    assert answer["headers"]["X-Correlation-Id"] == load_event("docs")["requestContext"]["requestId"]


def test_the_raw_traversal_paths_are_404s_whatever_api_gateway_decodes() -> None:
    # Given the path as the browser sent it, decoded in pathParameters or not
    for raw, proxy in [
        ("/docs/..%2f..%2fetc/passwd", "../../etc/passwd"),
        ("/docs/..%2f..%2fetc/passwd", "..%2f..%2fetc/passwd"),
        ("/docs/../template.yaml", "../template.yaml"),
    ]:
        event = event_for("x")
        event["path"] = raw
        event["requestContext"]["path"] = f"/v1{raw}"
        event["pathParameters"] = {"proxy": proxy}
        answer = call(event)
        # Then no file is read: API Gateway's 404
        assert answer["statusCode"] == 404, raw
        assert answer["body"] == gateway_responses()["MISSING_AUTHENTICATION_TOKEN"].template


def test_a_trailing_slash_names_the_same_file() -> None:
    assert get("swagger-ui.css/")["body"] == get("swagger-ui.css")["body"]
    assert get("index.html")["body"] == get(None)["body"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
def test_only_get_and_head_are_answered(method: str) -> None:
    for name in (None, "swagger-ui.css", "openapi.json"):
        answer = call(event_for(name, method=method))
        assert answer["statusCode"] == 404, (method, name)
        assert json.loads(answer["body"])["StatusCode"] == 404


def test_head_answers_the_headers_without_a_body() -> None:
    head = call(event_for("swagger-ui.css", method="HEAD"))
    got = get("swagger-ui.css")
    assert head["statusCode"] == 200
    assert head["body"] == ""
    assert head["headers"] == got["headers"]


def test_a_route_that_is_not_the_functions_is_a_404() -> None:
    event = event_for("swagger-ui.css")
    event["resource"] = "/deliveries/{deliveryId}"
    assert call(event)["statusCode"] == 404


def test_other_functions_never_load_swagger_ui() -> None:
    # Given a function of the gateway, and the docs module imported beside it
    script = (
        "import sys\n"
        "from local_gateway.functions import load_handler\n"
        "from local_gateway.template import functions\n"
        "spec = next(s for s in functions() if s.code_uri.name == 'update_customer_session_v2')\n"
        "load_handler(spec)\n"
        "packages = ('swagger_ui_bundle', 'jinja2')\n"
        "loaded = {m for m in sys.modules if m.startswith((*packages, 'talon_gateway.api.docs_ui'))}\n"
        "import talon_gateway.api.docs_ui\n"
        "after = {m for m in sys.modules if m.startswith(packages)}\n"
        "print(sorted(loaded), sorted(after))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=dict(os.environ) | {"PYTHONPATH": f"{ROOT}:{ROOT / 'shared'}"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    # Then neither the module nor the package is loaded by it, and the module alone loads no package
    assert result.stdout.strip() == "[] []", result.stdout + result.stderr


def test_swagger_ui_is_the_functions_dependency_not_the_layers() -> None:
    manifest = (ROOT / "functions" / "docs" / "requirements.txt").read_text()
    lock = (ROOT / "requirements" / "dev.lock").read_text()
    pins = [line for line in manifest.splitlines() if line and not line.startswith("#")]
    assert "swagger-ui-bundle-v2==5.31.0" in pins
    for pin in pins:  # as the local gateway's /docs has them
        assert re.search(rf"^{re.escape(pin)}\s", lock, re.MULTILINE), pin
    layer = (ROOT / "shared" / "requirements.txt").read_text().lower()
    assert "swagger" not in layer
    assert "jinja2" not in layer
