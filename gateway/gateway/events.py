"""Domain events the gateway listens to (contract: docs/events.md).

Each gateway process gets its own copy of an event (an exclusive, auto-deleted queue bound
to `<service>.events`), on the RPC client's connection; the robust channel re-declares the
queue and its binding after a broker restart.
"""
from __future__ import annotations

import json
import logging
from typing import Awaitable, Callable

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

log = logging.getLogger(__name__)

Handler = Callable[[dict], Awaitable[None] | None]


async def subscribe(connection: AbstractRobustConnection, source: str, event_type: str,
                    handler: Handler) -> None:
    channel = await connection.channel()
    # Same exchange declaration as Nameko's dispatcher, so either side may create it first.
    exchange = await channel.declare_exchange(f"{source}.events", aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange, routing_key=event_type)

    async def on_message(message: AbstractIncomingMessage) -> None:
        async with message.process(ignore_processed=True):
            try:
                payload = json.loads(message.body)
            except ValueError:
                log.warning("dropped a malformed %s.%s event", source, event_type)
                return
            result = handler(payload)
            if result is not None:
                await result

    await queue.consume(on_message)
