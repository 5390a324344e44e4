"""The ASGI app over the real broker, with fake services (gateway.testing.FakeService)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.settings import load
from gateway.testing import FakeService, health_of
from medcode_contracts.services import ALL_SERVICES

pytestmark = pytest.mark.rabbit

SEARCH_RESULT = {
    "total_count": 1,
    "has_next_page": False,
    "end_cursor": "c1",
    "facets": [{"system": "ICD10CM", "count": 1}],
    "hits": [
        {
            "cursor": "c1",
            "score": 1.0,
            "highlight": None,
            "node": {"system": "ICD10CM", "code": "K22.0", "title": "Made-up title", "billable": True},
        }
    ],
}


async def search_codes(kwargs):
    return SEARCH_RESULT


@pytest.fixture(scope="module")
async def app(amqp_uri):
    app = create_app(load(AMQP_URI=amqp_uri, RPC_TIMEOUT=2.0), ready_timeout=0.5)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="module")
async def http(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gateway") as client:
        yield client


async def test_healthz(http):
    response = await http.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readyz_names_the_services_that_do_not_answer(http, amqp_uri):
    response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["not_ready"] == sorted(ALL_SERVICES)

    services = [FakeService(amqp_uri, name, {"health": health_of(name)}) for name in ALL_SERVICES]
    for service in services:
        await service.start()
    try:
        response = await http.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {"ready": True, "not_ready": [], "services": {s: "ok" for s in ALL_SERVICES}}

        await services[-1].stop()  # its queue stays, nobody consumes it: a crashed service
        response = await http.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["not_ready"] == [ALL_SERVICES[-1]]
        assert "did not answer" in body["services"][ALL_SERVICES[-1]]
    finally:
        for service in services[:-1]:
            await service.stop()


async def test_the_gateways_own_readiness_does_not_wait_for_the_services(http):
    # The pods' probe (deploy/k8s): connected to the broker is ready, though no service answers.
    assert (await http.get("/readyz")).status_code == 503
    response = await http.get("/readyz/gateway")
    assert response.status_code == 200 and response.json() == {"ready": True}


async def test_graphql_post_and_get(http, amqp_uri):
    async with FakeService(amqp_uri, "codes", {"search_codes": search_codes}) as codes:
        response = await http.post(
            "/graphql",
            json={
                "query": "query($q: String!) { searchCodes(query: $q) { totalCount edges { node { code } } } }",
                "variables": {"q": "achalasia"},
            },
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"data": {"searchCodes": {"totalCount": 1, "edges": [{"node": {"code": "K22.0"}}]}}}
        headers = codes.received[-1].headers
        assert headers["nameko.call_id_stack"][0].startswith("gateway.searchCodes.")

    response = await http.get("/graphql", params={"query": "{ __typename }"})
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_concurrent_searches_reach_codes_as_one_call_each_with_its_own_answer(http, amqp_uri):
    def answer(search: dict) -> dict:
        return {**SEARCH_RESULT, "total_count": len(search["query"])}

    async def one(kwargs):
        return answer(kwargs["request"])

    async def many(kwargs):
        return [{"result": answer(search)} for search in kwargs["request"]["searches"]]

    query = "query($q: String!) { searchCodes(query: $q) { totalCount } }"
    words = ["a" * n for n in range(3, 9)]  # each its own query: the gateway's search cache misses
    async with FakeService(amqp_uri, "codes", {"search_codes": one, "search_codes_many": many}) as codes:
        answers = await asyncio.gather(
            *(http.post("/graphql", json={"query": query, "variables": {"q": w}}) for w in words)
        )
        methods = [m.routing_key for m in codes.received]
    assert [a.json() for a in answers] == [{"data": {"searchCodes": {"totalCount": len(w)}}} for w in words]
    assert "codes.search_codes_many" in methods and len(methods) < len(words)


async def test_a_body_that_is_not_json_is_a_bad_request(http):
    response = await http.post(
        "/graphql", content=b'{"query": "{ __typename }"', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


async def test_graphiql_in_a_browser(http):
    response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_bad_input_and_a_service_down_over_http(http):
    response = await http.post("/graphql", json={"query": '{ searchCodes(query: "x", first: 500) { totalCount } }'})
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}

    # No codes service on this vhost at all.
    response = await http.post("/graphql", json={"query": '{ searchCodes(query: "x") { totalCount } }'})
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "UNAVAILABLE"}
    assert "codes" in error["message"]


async def metric_samples(http) -> dict[tuple, float]:
    response = await http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


async def test_metrics_show_latency_histograms_per_operation_and_per_rpc(http, app, amqp_uri):
    before = await metric_samples(http)
    async with FakeService(amqp_uri, "codes", {"search_codes": search_codes}):
        query = '{ searchCodes(query: "metrics probe") { totalCount } }'
        response = await http.post("/graphql", json={"query": query})
        assert response.json() == {"data": {"searchCodes": {"totalCount": 1}}}
    after = await metric_samples(http)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("gateway_graphql_operation_duration_seconds_count", operation="query searchCodes") == 1
    assert grew("gateway_rpc_duration_seconds_count", service="codes", method="search_codes", outcome="ok") == 1
    assert (
        grew("gateway_rpc_duration_seconds_bucket", service="codes", method="search_codes", outcome="ok", le="+Inf")
        == 1
    )
    assert grew("gateway_search_cache_total", result="miss") == 1
    for cache in ("code_page", "code_rules"):  # each cache counts apart
        assert (f"gateway_{cache}_cache_total", (("result", "hit"),)) in after
    assert after[("process_resident_memory_bytes", ())] > 0


async def test_metrics_name_a_failed_rpc_by_its_error(http):
    before = await metric_samples(http)
    await http.post("/graphql", json={"query": '{ searchCodes(query: "nobody answers") { totalCount } }'})
    after = await metric_samples(http)
    failed = [
        key
        for key, value in after.items()
        if key[0] == "gateway_rpc_duration_seconds_count"
        and dict(key[1])["method"] == "search_codes"
        and dict(key[1])["outcome"] != "ok"
        and value > before.get(key, 0.0)
    ]
    assert [dict(key[1])["outcome"] for key in failed] in (["Unavailable"], ["UnknownService"])


def test_subscriptions_over_websocket(amqp_uri):
    app = create_app(load(AMQP_URI=amqp_uri))
    client = TestClient(app)  # no lifespan: the filter is refused before any RPC
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": "subscription { jobPosted(filter: {minSalary: -1}) { id } }"},
            }
        )
        message = ws.receive_json()
        assert message["id"] == "1"
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"}
        assert "minSalary" in errors[0]["message"]
