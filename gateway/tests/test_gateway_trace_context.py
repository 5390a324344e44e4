"""While no span processor is installed, the gateway's request span is a bare one that only
carries the trace context (gateway.telemetry.RequestTracing): the RPCs still continue the
caller's trace; once a processor is added, the full OpenTelemetry middleware records again."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.telemetry import RequestTracing
from medcode_common.aio_rpc.client import context_headers
from medcode_common.telemetry import spans_are_recorded

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def scope(headers: list[tuple[bytes, bytes]]) -> dict:
    return {
        "type": "http",
        "method": "GET",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "headers": [(b"host", b"gateway"), *headers],
        "scheme": "http",
        "server": ("gateway", 80),
        "client": ("198.51.100.7", 5555),
        "http_version": "1.1",
    }


@pytest.fixture
def provider(monkeypatch) -> TracerProvider:
    provider = TracerProvider()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    return provider


async def traceparent_of_an_rpc(headers: list[tuple[bytes, bytes]]) -> str:
    """The `nameko.traceparent` an RPC made while handling a request with `headers` carries."""
    seen: list[str] = []

    async def app(scope, receive, send):
        seen.append(context_headers("search")["nameko.traceparent"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    await RequestTracing(app)(scope(headers), receive, send)
    [traceparent] = seen
    return traceparent


async def test_without_a_span_processor_the_rpcs_still_continue_the_callers_trace(provider):
    assert not spans_are_recorded(provider)
    version, trace_id, span_id, flags = (
        await traceparent_of_an_rpc([(b"traceparent", f"00-{TRACE_ID}-{CALLER_SPAN}-01".encode())])
    ).split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
    assert span_id != CALLER_SPAN and int(span_id, 16) != 0  # the gateway's own span
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left behind after the request


async def test_without_a_caller_trace_each_request_starts_its_own(provider):
    first, second = [(await traceparent_of_an_rpc([])).split("-")[1] for _ in range(2)]
    assert first != second and int(first, 16) != 0


async def test_with_a_span_processor_the_request_span_is_recorded_in_full(provider):
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    assert spans_are_recorded(provider)
    traceparent = await traceparent_of_an_rpc([(b"traceparent", f"00-{TRACE_ID}-{CALLER_SPAN}-01".encode())])
    [server] = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert server.name == "GET /graphql" and server.attributes.get("http.target") == "/graphql"
    assert traceparent == f"00-{TRACE_ID}-{format(server.context.span_id, '016x')}-01"
