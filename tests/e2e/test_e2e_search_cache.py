"""Repeated searches and code pages are answered by the gateway's caches (the meter is still
asked on every view); a new edition clears them."""

import asyncio
import json
import time

import aio_pika

QUERY = '{ searchCodes(query: "esophageal achalasia cache probe", first: 5) { totalCount } }'


def _rpcs(stack) -> int:
    return stack.rpc_calls("codes.search_codes")


async def _publish_edition_loaded(amqp_uri: str) -> None:
    connection = await aio_pika.connect(amqp_uri)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange("codes.events", aio_pika.ExchangeType.TOPIC, durable=True)
        payload = {
            "event_id": "00000000-0000-4000-8000-000000000001",
            "schema": "codes.edition_loaded/1",
            "occurred_at": "2026-11-25T00:00:00+00:00",
            "traceparent": None,
            "system": "HCPCS",
            "edition": "test",
            "effective_from": "2026-01-01",
            "codes": 1,
            "added": 0,
            "deleted": 0,
            "revised": 0,
        }
        await exchange.publish(
            aio_pika.Message(json.dumps(payload).encode(), content_type="application/json"),
            routing_key="edition_loaded",
        )


def _until_asked_again(stack, query: str, target: str, before: int) -> None:
    """Ask `query` until the gateway calls `target` again (the event takes a moment to arrive)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stack.graphql(query)
        if stack.rpc_calls(target) > before:
            return
        time.sleep(0.2)


def test_a_repeated_search_costs_no_rpc_until_an_edition_is_loaded(code_sets):
    stack = code_sets
    first = stack.graphql(QUERY)
    before = _rpcs(stack)
    assert stack.graphql(QUERY) == first
    assert _rpcs(stack) == before  # answered from the cache

    asyncio.run(_publish_edition_loaded(stack.env["AMQP_URI"]))
    _until_asked_again(stack, QUERY, "codes.search_codes", before)
    assert _rpcs(stack) == before + 1  # the event cleared the cache: asked the service again


PAGE = '{ code(system: ICD10CM, code: "K22.0") { title access { granted } notes { excludes1 } } }'


def test_a_repeated_code_page_costs_only_the_meter_until_an_edition_is_loaded(code_sets):
    stack = code_sets
    first = stack.graphql(PAGE)
    assert first["data"]["code"]["title"]
    pages, meter = stack.rpc_calls("codes.get_codes"), stack.rpc_calls("metering.check_views")
    again = stack.graphql(PAGE)
    assert again["data"]["code"]["title"] == first["data"]["code"]["title"]
    assert stack.rpc_calls("codes.get_codes") == pages  # the page came from the cache...
    assert stack.rpc_calls("metering.check_views") == meter + 1  # ...the view was metered all the same
    if not again["data"]["code"]["access"]["granted"]:
        assert again["data"]["code"]["notes"] is None

    asyncio.run(_publish_edition_loaded(stack.env["AMQP_URI"]))
    _until_asked_again(stack, PAGE, "codes.get_codes", pages)
    assert stack.rpc_calls("codes.get_codes") == pages + 1  # the event cleared the cache
