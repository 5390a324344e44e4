"""Tracing at the gateway: OpenTelemetry's ASGI middleware makes one SERVER span per HTTP
request or websocket, continuing the caller's trace when it sends a W3C `traceparent`.
While that span is active, the RPC client puts its context on every call
(`nameko.traceparent`), so the services' spans join the trace.

A span per request rather than one per GraphQL resolver: a span per request is what an
operator follows, and costs microseconds instead of a share of every field. The
middleware's own spans around each ASGI send and receive are left out for the same reason.

While no span processor is installed (no exporter configured: spans are made only so that
the context propagates), collecting the request's HTTP attributes for a span nobody reads
cost about a tenth of a request's CPU. Then the request gets a bare SERVER span from the
same tracer (same sampler, same ids, the caller's trace continued), which is all the RPCs
need; as soon as a processor is added, requests go through the full middleware again.
"""

from __future__ import annotations

from typing import Any, cast

from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware, asgi_getter
from opentelemetry.trace import Span, SpanKind
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from medcode_common.telemetry import configure_tracing, spans_are_recorded

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


class RequestTracing:
    """OpenTelemetry's ASGI middleware while spans are recorded; otherwise a bare span that
    only carries the trace context (see the module doc)."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self.full = OpenTelemetryMiddleware(
            app, exclude_spans=["receive", "send"], server_request_hook=_without_query_string
        )
        self._provider: Any = None
        self._tracer: trace.Tracer | None = None

    def tracer(self, provider: Any) -> trace.Tracer:
        if provider is not self._provider or self._tracer is None:
            self._provider, self._tracer = provider, provider.get_tracer(__name__)
        return self._tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        provider = trace.get_tracer_provider()
        if spans_are_recorded(provider) or trace.get_current_span() is not trace.INVALID_SPAN:
            await self.full(scope, receive, send)
            return
        parent = propagate.extract(cast(dict, scope), getter=asgi_getter)
        span = self.tracer(provider).start_span(scope["type"], context=parent, kind=SpanKind.SERVER)
        token = context.attach(trace.set_span_in_context(span, parent))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)
            span.end()


def tracing_middleware() -> Middleware:
    """The ASGI middleware that traces the gateway (installs the tracer provider first)."""
    configure_tracing("gateway")
    return Middleware(RequestTracing)
