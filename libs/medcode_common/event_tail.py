"""Tail the live domain events for operators (`make events`): one line per event with its
time, type and id, never its other fields (emails, names and questions are personal).

    python -m medcode_common.event_tail [--service accounts] [--count N]

Listens on an exclusive, auto-deleted queue of its own bound to every `<service>.events`
exchange, so it takes nothing away from the services and leaves nothing behind.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import UTC, datetime

# The only payload fields ever printed: the envelope every event carries (docs/events.md).
SHOWN = ("occurred_at", "schema", "event_id")


def describe(routing_key: str, exchange: str, body) -> str:
    """`<time>  <source>.<type>  <event_id>  <schema>` of one event."""
    payload = body
    if isinstance(body, (bytes, str)):
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
    source = exchange.removesuffix(".events")
    if not isinstance(payload, dict):
        return f"{datetime.now(UTC).isoformat(timespec='seconds')}  {source}.{routing_key}  <not a JSON object>"
    when = payload.get("occurred_at") or datetime.now(UTC).isoformat(timespec="seconds")
    return f"{when}  {source}.{routing_key}  {payload.get('event_id', '-')}  {payload.get('schema', '-')}"


def _sources(chosen: list[str] | None) -> list[str]:
    if chosen:
        return chosen
    from .launcher import SERVICES

    return list(SERVICES)


def tail(
    amqp_uri: str,
    sources: list[str],
    count: int | None = None,
    out=sys.stdout,
    ready=None,
    idle_timeout: float | None = None,
) -> int:
    from kombu import Connection, Exchange, Queue

    seen = 0
    with Connection(amqp_uri, connect_timeout=10) as connection:
        channel = connection.channel()
        queue = Queue(f"event-tail-{uuid.uuid4().hex[:12]}", exclusive=True, auto_delete=True, channel=channel)
        queue.declare()
        for source in sources:
            exchange = Exchange(f"{source}.events", type="topic", durable=True, channel=channel)
            exchange.declare()  # same declaration as Nameko's dispatcher: harmless if it exists
            queue.bind_to(exchange, routing_key="#")

        def on_message(body, message):
            nonlocal seen
            info = message.delivery_info
            print(describe(info.get("routing_key", ""), info.get("exchange", ""), message.body), file=out, flush=True)
            message.ack()
            seen += 1

        with connection.Consumer(queue, callbacks=[on_message], accept=["json"], auto_declare=False):
            if ready is not None:
                ready()
            while count is None or seen < count:
                try:
                    connection.drain_events(timeout=idle_timeout)
                except TimeoutError:
                    return seen
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medcode_common.event_tail", description=__doc__.split("\n\n")[0])
    parser.add_argument("--service", action="append", help="only this service's events (repeatable)")
    parser.add_argument("--count", type=int, help="stop after this many events")
    args = parser.parse_args(argv)
    from .broker_commands import run_on_broker

    def work(amqp_uri: str) -> int:
        sources = _sources(args.service)
        print(f"tailing the events of {', '.join(sources)} (Ctrl-C stops)", file=sys.stderr, flush=True)
        try:
            tail(amqp_uri, sources, args.count)
        except KeyboardInterrupt:
            pass
        return 0

    return run_on_broker(work)


if __name__ == "__main__":
    sys.exit(main())
