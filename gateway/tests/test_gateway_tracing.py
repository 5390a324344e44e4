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


async def search_codes_many(kwargs):
    return [{"result": await search_codes(search)} for search in kwargs["request"]["searches"]]


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
        FakeService(amqp_uri, "codes", {"search_codes": search_codes, "search_codes_many": search_codes_many}) as codes,
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


async def test_a_coalesced_call_is_a_span_of_the_first_request_linked_to_every_request(traced):
    import asyncio

    http, spans, codes = traced
    spans.clear()
    traces = [f"{n:x}" * 32 for n in range(1, 4)]
    answers = await asyncio.gather(
        *(
            http.post(
                "/graphql",
                json={"query": f'{{ searchCodes(query: "together {n}") {{ totalCount }} }}'},
                headers={"traceparent": f"00-{trace_id}-{CALLER_SPAN}-01"},
            )
            for n, trace_id in enumerate(traces)
        )
    )
    assert all(a.status_code == 200 and not a.json().get("errors") for a in answers)
    [batch] = [s for s in spans.get_finished_spans() if s.name == "codes.search_codes_many"]
    servers = {
        format(s.context.trace_id, "032x"): s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER
    }
    assert batch.kind == trace.SpanKind.CLIENT and batch.attributes["coalesced.calls"] == 3
    assert batch.parent.span_id == servers[format(batch.context.trace_id, "032x")].context.span_id
    assert {(link.context.trace_id, link.context.span_id) for link in batch.links} == {
        (s.context.trace_id, s.context.span_id) for s in servers.values()
    }
    [message] = [m for m in codes.received if m.routing_key == "codes.search_codes_many"]
    assert message.headers["nameko.traceparent"] == (
        f"00-{format(batch.context.trace_id, '032x')}-{format(batch.context.span_id, '016x')}-01"
    )
