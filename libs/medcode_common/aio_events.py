"""Domain-event subscriptions for asyncio processes (the gateway), with the same dead-letter
route as the Nameko services' `handle_event` (see medcode_common.dead_letters).

    await subscribe(connection, "gateway", "codes", "edition_loaded", handler)

Each process gets its own copy of an event (an exclusive, auto-deleted queue bound to
`<source>.events`): these are per-process caches to clear, so a failing handler is retried
in place with backoff (its queue disappears with the process, so there is nothing to send
a copy back to), and after EVENT_MAX_ATTEMPTS it is parked in `<service>.dead-letter`.
Replaying it then goes to the event's exchange, since that process's queue is gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from . import codec, dead_letters

log = logging.getLogger(__name__)

Handler = Callable[[dict], Awaitable[None] | None]


async def subscribe(
    connection: AbstractRobustConnection,
    service: str,
    source: str,
    event_type: str,
    handler: Handler,
    settings: dead_letters.DeadLetterSettings | None = None,
) -> None:
    settings = settings or dead_letters.load_settings()
    channel = await connection.channel(publisher_confirms=True)
    # Same exchange declaration as Nameko's dispatcher, so either side may create it first.
    exchange = await channel.declare_exchange(f"{source}.events", aio_pika.ExchangeType.TOPIC, durable=True)
    parking = await channel.declare_queue(dead_letters.dead_letter_queue(service), durable=True)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange, routing_key=event_type)

    async def park(message: AbstractIncomingMessage, headers: dict) -> None:
        await channel.default_exchange.publish(
            aio_pika.Message(
                message.body,
                headers=headers,
                content_type=message.content_type,
                message_id=dead_letters.new_message_id(),
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=parking.name,
        )

    async def on_message(message: AbstractIncomingMessage) -> None:
        headers = dict(message.headers or {})
        while True:
            try:
                try:
                    payload = codec.loads(message.body)
                except ValueError:
                    raise dead_letters.Unprocessable(f"{source}.{event_type}: the body is not JSON") from None
                result = handler(payload)
                if result is not None:
                    await result
                await message.ack()
                return
            except Exception as exc:  # noqa: BLE001 - every failure takes the route
                decision = dead_letters.decide(
                    headers, exc, queue=queue.name, exchange=exchange.name, routing_key=event_type, settings=settings
                )
                headers = decision.headers
                if decision.retry:
                    log.warning(
                        "%s.%s failed (try %s of %s), retrying in %.1f s: %s",
                        source,
                        event_type,
                        headers[dead_letters.ATTEMPTS],
                        settings.EVENT_MAX_ATTEMPTS,
                        decision.delay,
                        headers[dead_letters.ERROR],
                    )
                    await asyncio.sleep(decision.delay)
                    continue
                try:
                    await park(message, headers)
                except Exception:  # noqa: BLE001 - broker away: give it back rather than lose it
                    log.warning("could not park a failed %s.%s event; requeued", source, event_type, exc_info=True)
                    await message.nack(requeue=True)
                    return
                log.error(
                    "%s.%s failed %s time(s); parked in %s: %s",
                    source,
                    event_type,
                    headers[dead_letters.ATTEMPTS],
                    parking.name,
                    headers[dead_letters.ERROR],
                )
                await message.ack()
                return

    await queue.consume(on_message)
