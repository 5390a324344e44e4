"""The coders' web app, served by the gateway: page URLs, static files and the security
headers of every response.

The app (web/app: plain ES modules, no build step) is a client of /graphql like any
other. `make web` vendors its few npm libraries from web/node_modules into
web/app/vendor, so nothing is fetched from the internet at run time, GraphiQL included:
`GET /graphql` from a browser gets web/app/graphiql.html instead of Strawberry's page,
which loads React and GraphiQL from a public CDN.

Every page URL (`/`, `/code/ICD10CM/K22.0`, `/jobs/42`, ...) answers the same
index.html; the app routes on the path, so those URLs can be shared and bookmarked.
`/schema.graphql` is the public GraphQL contract (medcode_contracts.graphql_schema).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medcode_contracts import graphql_schema

log = logging.getLogger("gateway.web")

REPO_WEB_ROOT = Path(__file__).resolve().parents[2] / "web" / "app"
WEB_ROOT_VARIABLE = "GATEWAY_WEB_ROOT"

# Only this origin: no inline script, no eval, no third-party host. Styles likewise come
# from files only ('unsafe-inline' is not needed: script sets styles through the CSSOM,
# which CSP allows). `connect-src 'self'` covers the same-origin websocket in Chromium and
# Firefox (CSP level 3).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]

# The app's page URLs; each answers index.html (the app reads the path).
PAGE_PATHS = [
    "/",
    "/search",
    "/code/{system}/{code:path}",
    "/claims",
    "/assistant",
    "/assistant/{conversation_id}",
    "/jobs",
    "/jobs/new",
    "/jobs/{job_id}",
    "/employer",
    "/account",
    "/login",
    "/register",
]


def web_root() -> Path:
    configured = os.environ.get(WEB_ROOT_VARIABLE)
    return Path(configured) if configured else REPO_WEB_ROOT


class SecurityHeaders:
    """Adds the CSP and its companions to every HTTP response (websockets pass through)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    header for header in SECURITY_HEADERS if header[0] not in present
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _page(root: Path, name: str):
    """The endpoint answering one HTML file; no caching, so a new deployment is seen at once."""
    path = root / name

    async def page(request) -> Response:
        if not path.is_file():
            raise HTTPException(503, f"the web app is not installed ({path} is missing): run `make web`")
        return FileResponse(path, media_type="text/html", headers={"cache-control": "no-cache"})

    return page


class OfflineGraphiQL:
    """Mixed into the GraphQL ASGI app: a browser's `GET /graphql` gets the GraphiQL page
    built from local assets (Strawberry's own page loads them from a CDN)."""

    async def render_graphql_ide(self, request) -> Response:
        return await _page(web_root(), "graphiql.html")(request)


async def graphql_contract(request) -> Response:
    # Served in production too: it is the public contract, readable with introspection off.
    return FileResponse(graphql_schema.PATH, media_type="text/plain; charset=utf-8")


def routes(root: Path | None = None, graphiql: bool = True) -> list:
    """The pages, and GraphiQL where the production switch (GATEWAY_GRAPHIQL) allows it."""
    root = root or web_root()
    if not (root / "vendor").is_dir():
        log.warning(
            "web app libraries are missing in %s/vendor: run `make web` (GraphiQL and the "
            "assistant's streaming need them)",
            root,
        )
    index = _page(root, "index.html")
    explorer = [Route("/graphiql", _page(root, "graphiql.html"), methods=["GET", "HEAD"])] if graphiql else []
    return (
        [Route(path, index, methods=["GET", "HEAD"]) for path in PAGE_PATHS]
        + explorer
        + [
            Route("/schema.graphql", graphql_contract, methods=["GET", "HEAD"]),
            # check_dir=False: a gateway without the app (no web/ checkout) still serves the API.
            Mount("/static", app=StaticFiles(directory=root, check_dir=False), name="static"),
        ]
    )
