"""The gateway's request span (OpenTelemetry's ASGI middleware): it continues the caller's
trace, the RPCs it makes carry it, and the URL's query string (a GET query's variables)
is not recorded."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.app import create_app
from gateway.settings import load
from gateway.testing import FakeService

pytestmark = pytest.mark.rabbit

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


async def search_codes(kwargs):
    return {"total_count": 0, "has_next_page": False, "end_cursor": None, "facets": [], "hits": []}


@pytest.fixture(scope="module")
async def traced(amqp_uri):
    app = create_app(load(AMQP_URI=amqp_uri, RPC_TIMEOUT=2.0))  # installs the gateway's tracer provider
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gateway") as http,
        FakeService(amqp_uri, "codes", {"search_codes": search_codes}) as codes,
    ):
        yield http, spans, codes


async def test_a_request_is_one_server_span_that_continues_the_callers_trace_into_the_rpcs(traced):
    http, spans, codes = traced
    spans.clear()
    response = await http.get(
        "/graphql",
        params={"query": '{ searchCodes(query: "secret words") { totalCount } }'},
        headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"},
    )
    assert response.status_code == 200 and not response.json().get("errors")

    [server] = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert server.name == "GET /graphql"
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert format(server.parent.span_id, "016x") == CALLER_SPAN
    assert [s.name for s in spans.get_finished_spans() if s.name.endswith((" send", " receive"))] == []
    headers = codes.received[-1].headers
    assert headers["nameko.traceparent"] == f"00-{TRACE_ID}-{format(server.context.span_id, '016x')}-01"
    recorded = " ".join(str(value) for value in server.attributes.values())
    assert "secret" not in recorded and "searchCodes" not in recorded
    assert server.attributes.get("http.target") == "/graphql", dict(server.attributes)
    assert server.attributes.get("http.url") == "http://gateway/graphql", dict(server.attributes)
