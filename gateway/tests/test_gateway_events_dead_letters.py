"""The gateway's event subscription over the real broker takes the platform's dead-letter
route: a handler that keeps failing is tried EVENT_MAX_ATTEMPTS times, the events behind
it are handled meanwhile, and it is parked in gateway.dead-letter with its error."""

import asyncio
import json

import aio_pika
import pytest

from gateway import events
from medcode_common import dead_letters

pytestmark = pytest.mark.rabbit


async def test_a_failing_event_is_retried_then_parked_while_others_are_handled(amqp_uri, monkeypatch):
    monkeypatch.setenv("EVENT_RETRY_DELAY", "0.05")
    handled = []

    def handler(payload):
        handled.append(payload["n"])
        if payload.get("poison"):
            raise RuntimeError("cache refused")

    connection = await aio_pika.connect_robust(amqp_uri)
    try:
        await events.subscribe(connection, "codes", "edition_loaded", handler)
        channel = await connection.channel()
        exchange = await channel.declare_exchange("codes.events", aio_pika.ExchangeType.TOPIC, durable=True)
        for body in ({"n": 0, "poison": True}, {"n": 1}, {"n": 2}):
            await exchange.publish(aio_pika.Message(json.dumps(body).encode()), routing_key="edition_loaded")
        await exchange.publish(aio_pika.Message(b"not json"), routing_key="edition_loaded")

        parking = await channel.declare_queue("gateway.dead-letter", durable=True)
        parked = []
        for _ in range(200):
            message = await parking.get(fail=False, no_ack=True)
            if message is not None:
                parked.append(message)
            if len(parked) == 2:
                break
            await asyncio.sleep(0.05)
        assert handled.count(0) == 5 and sorted(n for n in handled if n) == [1, 2]
        assert handled.index(2) < len(handled) - 1  # not stuck behind the failing one
        errors = sorted(m.headers[dead_letters.ERROR] for m in parked)
        assert errors == ["RuntimeError: cache refused", "Unprocessable: codes.edition_loaded: the body is not JSON"]
        poisoned = next(m for m in parked if m.body != b"not json")
        assert poisoned.headers[dead_letters.ATTEMPTS] == 5
        assert poisoned.headers[dead_letters.EXCHANGE] == "codes.events"
    finally:
        await connection.close()
