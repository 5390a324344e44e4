"""Tracing at the gateway: OpenTelemetry's ASGI middleware makes one SERVER span per HTTP
request or websocket, continuing the caller's trace when it sends a W3C `traceparent`.
While that span is active, the RPC client puts its context on every call
(`nameko.traceparent`), so the services' spans join the trace.

A span per request rather than one per GraphQL resolver: a span per request is what an
operator follows, and costs microseconds instead of a share of every field. The
middleware's own spans around each ASGI send and receive are left out for the same reason.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.trace import Span
from starlette.middleware import Middleware

from medcode_common.telemetry import configure_tracing

# Span attributes that carry the URL's query string: a GraphQL query sent by GET has its
# variables there, and payloads are never recorded (medcode_common.telemetry).
_URL_ATTRIBUTES = ("http.url", "url.full")
_TARGET_ATTRIBUTES = ("http.target",)


def _without_query_string(span: Span, scope: dict[str, Any]) -> None:
    attributes = getattr(span, "attributes", None)
    if not scope.get("query_string") or not span.is_recording() or not attributes:
        return
    for key in _URL_ATTRIBUTES:
        if key in attributes:
            span.set_attribute(key, str(attributes[key]).split("?", 1)[0])
    for key in _TARGET_ATTRIBUTES:
        if key in attributes:
            span.set_attribute(key, scope.get("path", ""))
    if "url.query" in attributes:
        span.set_attribute("url.query", "")


def tracing_middleware() -> Middleware:
    """The ASGI middleware that traces the gateway (installs the tracer provider first)."""
    configure_tracing("gateway")
    return Middleware(
        OpenTelemetryMiddleware, exclude_spans=["receive", "send"], server_request_hook=_without_query_string
    )
