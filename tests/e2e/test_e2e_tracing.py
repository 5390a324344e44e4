"""One trace follows a request from the gateway across the broker into the services."""

import json
import time

import httpx

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _spans(stack, trace_id: str) -> list[dict]:
    if not stack.trace_file.exists():
        return []
    lines = stack.trace_file.read_text().splitlines()
    return [span for span in map(json.loads, filter(None, lines)) if span["trace_id"] == trace_id]


def test_a_search_is_one_trace_from_the_gateway_into_the_codes_service(code_sets):
    stack = code_sets
    response = httpx.post(
        f"{stack.url}/graphql",
        timeout=30,
        headers={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"},
        json={"query": '{ searchCodes(query: "achalasia") { totalCount } }'},
    )
    assert response.status_code == 200 and not response.json().get("errors")

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        spans = _spans(stack, TRACE_ID)
        if {"gateway", "codes"} <= {span["service"] for span in spans}:
            break
        time.sleep(0.2)
    by_service = {}
    for span in spans:
        by_service.setdefault(span["service"], []).append(span)
    assert set(by_service) >= {"gateway", "codes"}, spans
    gateway_span = next(s for s in by_service["gateway"] if s["kind"] == "SERVER")
    assert gateway_span["parent_id"] == "00f067aa0ba902b7"  # continues the caller's trace
    codes_span_parents = {s["parent_id"] for s in by_service["codes"]}
    assert gateway_span["span_id"] in codes_span_parents  # the service span hangs under the gateway's
