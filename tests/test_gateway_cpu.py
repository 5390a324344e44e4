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
