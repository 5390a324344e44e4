"""The web app's routes and headers (gateway.web): every page URL answers the app, static
files come from the web root, GraphiQL is built from local files, and every response
carries the strict Content-Security-Policy. No broker needed: nothing here calls a service."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware

from gateway import web
from gateway.app import create_app
from gateway.settings import load

PAGE_URLS = [
    "/",
    "/search?q=k22",
    "/code/ICD10CM/K22.0",
    "/code/ICD10PCS/0DB64ZZ",
    "/claims",
    "/assistant",
    "/assistant/abc123",
    "/jobs",
    "/jobs/new",
    "/jobs/42",
    "/employer",
    "/account",
    "/login",
    "/register",
]


@pytest.fixture(scope="module")
async def http():
    # The whole gateway app, without its lifespan (no broker): these routes need none.
    app = create_app(load(AMQP_URI="amqp://guest:guest@127.0.0.1:1/"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gateway") as client:
        yield client


def csp_directives(response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {part.split()[0]: " ".join(part.split()[1:]) for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("url", PAGE_URLS)
async def test_every_page_url_answers_the_app(http, url):
    response = await http.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/js/main.js"></script>' in response.text
    assert response.headers["cache-control"] == "no-cache"


async def test_the_csp_allows_no_inline_script_and_no_other_origin(http):
    for url in ["/", "/graphql?x=1", "/static/js/main.js", "/healthz"]:
        response = await http.get(url, headers={"accept": "text/html"})
        directives = csp_directives(response)
        assert directives["default-src"] == "'self'"
        assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval', no host
        assert directives["style-src"] == "'self'"
        assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
        for value in directives.values():
            assert "unsafe" not in value and "http" not in value and "*" not in value
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_no_page_has_inline_script_or_a_third_party_asset(http):
    for url in ["/", "/graphiql"]:
        html = (await http.get(url)).text
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert re.search(r'src="/static/', tag), f"{url}: {tag} is not a local script file"
        assert not re.search(r"<script\b[^>]*>(?!</script>)\s*[^<\s]", html), f"{url} has inline script"
        assert not re.search(r'(src|href)="(https?:)?//', html), f"{url} loads from another origin"


async def test_a_browser_asking_for_graphql_gets_the_local_graphiql(http):
    response = await http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert '<script src="/static/vendor/graphiql.min.js" defer></script>' in response.text
    assert "unpkg" not in response.text and "jsdelivr" not in response.text and "esm.sh" not in response.text


async def test_static_files_and_javascript_modules_get_a_javascript_type(http):
    response = await http.get("/static/js/main.js")
    assert response.status_code == 200 and "javascript" in response.headers["content-type"]
    assert (await http.get("/static/js/../../../pyproject.toml")).status_code == 404
    assert (await http.get("/static/nothing-here.js")).status_code == 404


async def test_without_the_web_app_the_api_still_works_and_pages_say_what_to_do(tmp_path):
    app = Starlette(routes=web.routes(tmp_path / "absent"), middleware=[Middleware(web.SecurityHeaders)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gateway") as client:
        response = await client.get("/code/ICD10CM/K22.0")
    assert response.status_code == 503
    assert "make web" in response.text
    assert "content-security-policy" in response.headers
