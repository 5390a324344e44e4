"""benchmarks.gateway_cpu drives the gateway's ASGI app in-process: its requests are
answered (no GraphQL errors) and the search goes through the fake codes answer."""

from __future__ import annotations

import asyncio

import orjson

from benchmarks import gateway_cpu
from benchmarks.run import SEARCH


def test_a_search_through_the_in_process_app_returns_the_made_up_hits():
    app = gateway_cpu.build_app()
    body = orjson.dumps({"query": SEARCH, "variables": {"q": "achalasia"}})
    answer = orjson.loads(asyncio.run(gateway_cpu.post(app, body)))
    assert "errors" not in answer, answer
    edges = answer["data"]["searchCodes"]["edges"]
    assert len(edges) == gateway_cpu.HITS and "<mark>achalasia</mark>" in edges[0]["highlight"]
    assert asyncio.run(gateway_cpu.cpu_ms_per_request(app, [body] * 25)) > 0


def test_a_members_page_is_granted_and_asks_accounts_once_per_session():
    app = gateway_cpu.build_app()
    headers = gateway_cpu.member_headers(app)
    for body in gateway_cpu.pages(3):
        answer = orjson.loads(asyncio.run(gateway_cpu.post(app, body, headers)))
        assert "errors" not in answer, answer
        assert answer["data"]["code"]["access"] == {"granted": True, "remaining": None}
        assert len(answer["data"]["code"]["children"]) == gateway_cpu.PAGE_CHILDREN
    assert app.rpc.calls["accounts.authenticate"] == 1
    assert [request["plan"] for request in app.rpc.sent("metering.check_views")] == ["PRO"] * 3


def test_a_cookie_less_guests_page_is_metered_as_a_new_guest_with_its_ip():
    app = gateway_cpu.build_app()
    for body in gateway_cpu.pages(2):
        answer = orjson.loads(asyncio.run(gateway_cpu.post(app, body)))
        assert answer["data"]["code"]["access"] == {"granted": True, "remaining": 7}, answer
    first, second = app.rpc.sent("metering.check_views")
    assert first["plan"] == "GUEST" and first["client_ip"] == "127.0.0.1"
    assert first["subject"] != second["subject"]  # no cookie sent back: a new guest id each time
    assert "accounts.authenticate" not in app.rpc.calls
