"""Domain events the gateway listens to (contract: docs/events.md).

Each gateway process gets its own copy of an event (an exclusive, auto-deleted queue bound
to `<service>.events`), on the RPC client's connection; the robust channel re-declares the
queue and its binding after a broker restart. A handler that keeps failing is retried
with backoff and then parked in `gateway.dead-letter` (medcode_common.aio_events), like
every other consumer of the platform.
"""

from __future__ import annotations

from aio_pika.abc import AbstractRobustConnection

from medcode_common import aio_events

SERVICE = "gateway"
Handler = aio_events.Handler


async def subscribe(connection: AbstractRobustConnection, source: str, event_type: str, handler: Handler) -> None:
    await aio_events.subscribe(connection, SERVICE, source, event_type, handler)
