"""Repeated searches are answered by the gateway's cache; a new edition clears it."""

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


def test_a_repeated_search_costs_no_rpc_until_an_edition_is_loaded(code_sets):
    stack = code_sets
    first = stack.graphql(QUERY)
    before = _rpcs(stack)
    assert stack.graphql(QUERY) == first
    assert _rpcs(stack) == before  # answered from the cache

    asyncio.run(_publish_edition_loaded(stack.env["AMQP_URI"]))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stack.graphql(QUERY)
        if _rpcs(stack) > before:
            break
        time.sleep(0.2)
    assert _rpcs(stack) == before + 1  # the event cleared the cache: asked the service again
