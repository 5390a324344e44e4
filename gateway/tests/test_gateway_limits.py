"""The gateway's own guards, on the real ASGI app over the real broker with fake
services: body size (413 before parsing), rate per client (RATE_LIMITED, Retry-After),
one mutation per request, the production switches (GraphiQL, introspection, /readyz
text) and the websocket's Origin check and connection_init authentication."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway.app import create_app
from gateway.limits import BodySizeLimit, RateLimiter, load_limits
from gateway.settings import load, load_auth
from gateway.testing import ACCOUNT, FakeService, session_token
from medcode_contracts.errors import Unauthenticated

pytestmark = pytest.mark.rabbit

PROD_SECRET = "limits-test-gateway-secret-" + "q" * 32
GOOD = session_token(PROD_SECRET, ACCOUNT["id"])  # signed as accounts would: the gateway checks it


def make_app(amqp_uri, **limits):
    auth = load_auth(
        GATEWAY_TRUSTED_PROXIES="127.0.0.1",
        GATEWAY_SECRET=PROD_SECRET,
        TOKEN_SECRET=PROD_SECRET,
        ENVIRONMENT=limits.get("ENVIRONMENT", "development"),
    )
    return create_app(
        load(AMQP_URI=amqp_uri, RPC_TIMEOUT=2.0),
        auth_settings=auth,
        limit_settings=load_limits(**{"RATE_LIMIT_PER_MINUTE": 0, **limits}),
        ready_timeout=0.5,
    )


@pytest.fixture(scope="module")
async def accounts(amqp_uri):
    async def authenticate(kwargs):
        if kwargs["request"]["token"] != GOOD:
            raise Unauthenticated("Your session is invalid or has expired: log in again.")
        return ACCOUNT

    async def login(kwargs):
        return {"token": "good", "expires_at": "2099-01-01T00:00:00+00:00", "account": ACCOUNT}

    async with FakeService(amqp_uri, "accounts", {"authenticate": authenticate, "login": login}) as service:
        yield service


def client(app, ip="203.0.113.1"):
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app, client=("127.0.0.1", 4000)),
        base_url="http://gateway",
        headers={"X-Forwarded-For": ip},
    )


# -- body size ------------------------------------------------------------------------------
async def test_a_one_mebibyte_body_is_refused_with_413_before_parsing(amqp_uri):
    app = make_app(amqp_uri)
    huge = {"query": "query($v: String) { __typename }", "variables": {"v": "x" * (1024 * 1024)}}
    async with app.router.lifespan_context(app), client(app) as http:
        response = await http.post("/graphql", json=huge)
        assert response.status_code == 413
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
        assert "at most 65536 bytes" in body["errors"][0]["message"]

        # Without a Content-Length (chunked) it is stopped all the same.
        async def chunks():
            for _ in range(20):
                yield b"x" * 65536

        response = await http.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
        assert response.status_code == 413
        ok = await http.post("/graphql", json={"query": "{ __typename }"})
        assert ok.status_code == 200 and ok.json() == {"data": {"__typename": "Query"}}


async def test_the_size_limit_reads_no_more_than_the_limit():
    seen = []

    async def app(scope, receive, send):  # would parse: must never run for a large body
        seen.append(scope)

    limited = BodySizeLimit(app, max_bytes=1024)
    chunks = [{"type": "http.request", "body": b"x" * 600, "more_body": True}] * 100
    received, sent = [], []

    async def receive():
        received.append(1)
        return chunks[len(received) - 1]

    async def send(message):
        sent.append(message)

    await limited({"type": "http", "path": "/graphql", "headers": [], "query_string": b""}, receive, send)
    assert seen == [] and sent[0]["status"] == 413 and len(received) == 2


# -- rate ------------------------------------------------------------------------------------
async def test_the_rate_limit_answers_rate_limited_with_retry_after(amqp_uri):
    app = make_app(amqp_uri, RATE_LIMIT_PER_MINUTE=5)
    async with (
        app.router.lifespan_context(app),
        client(app, "203.0.113.50") as http,
        client(app, "203.0.113.51") as other,
    ):
        answers = [await http.post("/graphql", json={"query": "{ __typename }"}) for _ in range(7)]
        assert [r.status_code for r in answers] == [200] * 5 + [429] * 2
        refused = answers[-1]
        assert refused.json()["errors"][0]["extensions"] == {"code": "RATE_LIMITED"}
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert (await other.post("/graphql", json={"query": "{ __typename }"})).status_code == 200
        assert (await http.get("/healthz")).status_code == 200  # probes are not limited


def test_the_limiter_forgets_at_the_next_minute_and_bounds_its_memory():
    now = [120.0]
    limiter = RateLimiter(2, clock=lambda: now[0], max_keys=3)
    assert [limiter.hit("a") for _ in range(3)] == [0, 0, 60]
    now[0] = 150.5
    assert limiter.hit("a") == 30
    now[0] = 180.0
    assert limiter.hit("a") == 0
    for key in "bcdefg":  # past max_keys, newcomers share one count
        limiter.hit(key)
    assert len(limiter._counts) == 4 and limiter.hit("h") > 0


# -- one mutation per request --------------------------------------------------------------
async def test_at_most_one_mutation_per_request(amqp_uri, accounts):
    app = make_app(amqp_uri)
    login = 'mutation { login(email: "a@example.org", password: "long enough") { token } }'
    async with app.router.lifespan_context(app), client(app) as http:
        batch = await http.post("/graphql", json=[{"query": login}, {"query": login}])
        assert batch.status_code == 400 and "at most 1 mutation" in batch.text
        aliased = await http.post(
            "/graphql",
            json={
                "query": 'mutation { a: login(email: "a@example.org", password: "long enough") { token } b: logout }'
            },
        )
        assert aliased.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        spread = await http.post(
            "/graphql", json={"query": "mutation { ...M } fragment M on Mutation { a: logout b: logout }"}
        )
        assert "at most 1 mutation" in spread.json()["errors"][0]["message"]
        assert accounts.received == []  # none of them hashed a password
        one = await http.post("/graphql", json=[{"query": login}, {"query": "{ __typename }"}])
        assert [item["data"] for item in one.json()] == [{"login": {"token": "good"}}, {"__typename": "Query"}]


# -- what strangers see in production ----------------------------------------------------
@pytest.mark.parametrize("environment", ["development", "production"])
async def test_production_hides_graphiql_introspection_and_readyz_details(amqp_uri, environment):
    app = make_app(amqp_uri, ENVIRONMENT=environment)
    production = environment == "production"
    async with app.router.lifespan_context(app), client(app) as http:
        ide = await http.get("/graphql", headers={"accept": "text/html"})
        assert ("graphiql" in ide.text.lower()) is not production
        # the web app's own explorer page follows the same switch
        assert ((await http.get("/graphiql")).status_code == 404) is production
        introspection = (await http.post("/graphql", json={"query": "{ __schema { types { name } } }"})).json()
        assert ("errors" in introspection) is production
        assert (await http.post("/graphql", json={"query": "{ __typename }"})).json() == {
            "data": {"__typename": "Query"}
        }
        ready = (await http.get("/readyz")).json()  # no service answers here
        text = json.dumps(ready["services"])
        assert ready["ready"] is False
        assert ("Timeout" in text or "Unavailable" in text or "rror" in text) is not production
        if production:
            assert set(ready["services"].values()) == {"not ready"}


async def test_production_switches_can_be_turned_on(amqp_uri):
    app = make_app(amqp_uri, ENVIRONMENT="production", GATEWAY_GRAPHIQL="1", GATEWAY_INTROSPECTION="1")
    async with app.router.lifespan_context(app), client(app) as http:
        assert "graphiql" in (await http.get("/graphql", headers={"accept": "text/html"})).text.lower()
        assert (
            "errors" not in (await http.post("/graphql", json={"query": "{ __schema { queryType { name } } }"})).json()
        )


# -- websockets -------------------------------------------------------------------------------
def _ws_init(ws, payload=None):
    ws.send_json({"type": "connection_init", **({"payload": payload} if payload is not None else {})})
    return ws.receive_json()


async def test_websockets_check_the_origin_and_authenticate_in_connection_init(amqp_uri, accounts):
    # The test client runs the app in a thread of its own, while this loop serves the fake accounts.
    await asyncio.to_thread(_websocket_checks, make_app(amqp_uri, GATEWAY_ALLOWED_ORIGINS="https://app.example.org"))


def _websocket_checks(app):
    with TestClient(app) as http:
        subprotocols = ["graphql-transport-ws"]
        with pytest.raises(WebSocketDisconnect):
            with http.websocket_connect(
                "/graphql", subprotocols=subprotocols, headers={"origin": "https://evil.example"}
            ) as ws:
                ws.receive_json()
        with http.websocket_connect(
            "/graphql", subprotocols=subprotocols, headers={"origin": "https://app.example.org"}
        ) as ws:
            assert _ws_init(ws) == {"type": "connection_ack"}  # a guest
        with http.websocket_connect("/graphql", subprotocols=subprotocols) as ws:
            assert _ws_init(ws, {"Authorization": f"Bearer {GOOD}"}) == {"type": "connection_ack"}
        with http.websocket_connect("/graphql", subprotocols=subprotocols) as ws:
            ws.send_json({"type": "connection_init", "payload": {"Authorization": "Bearer forged"}})
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4403
        # A session cookie without the CSRF proof in connection_init is refused too.
        http.cookies.set("medcode_session", GOOD)
        with http.websocket_connect("/graphql", subprotocols=subprotocols) as ws:
            ws.send_json({"type": "connection_init", "payload": {}})
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4403
