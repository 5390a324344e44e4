"""Dead letters: a message that keeps failing is parked where an operator sees it, and
never spins.

Every event consumer of the platform (Nameko services through
`medcode_common.events.handle_event`, the gateway through `medcode_common.aio_events`)
follows the same route, decided here:

- the handler fails: the message goes to `<queue>.retry` with a per-message TTL that
  doubles each time (EVENT_RETRY_DELAY, 2x, 4x, ... capped at EVENT_RETRY_MAX_DELAY);
  when the TTL runs out the broker dead-letters it back into `<queue>` (and only that
  queue, through the default exchange). The original is acknowledged, so the messages
  behind it are consumed meanwhile;
- it failed EVENT_MAX_ATTEMPTS times (default 5), or the handler raised `Unprocessable`
  (no retry can fix it): it is parked in `<service>.dead-letter` with the error, the
  attempts and where it came from, in its headers;
- `python -m medcode_common.dead_letters list|replay` (`make dead-letters`) shows the
  parked messages and sends chosen ones back to the queue they failed in.

Republishing uses publisher confirms: if the broker does not take the copy, the original
is requeued instead of acknowledged, so nothing is lost in between.
"""

from __future__ import annotations

import argparse
import builtins
import json
import sys
import traceback
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .settings import DeadLetterSettings, read_settings

# Headers the route adds (AMQP header names; kept on the message through every hop).
ATTEMPTS = "x-medcode-attempts"  # how many times the handler has failed it
ERROR = "x-medcode-error"  # "ExceptionType: message" of the last failure
TRACEBACK = "x-medcode-traceback"  # its traceback, shortened
QUEUE = "x-medcode-queue"  # the consumer queue it failed in (replay target)
EXCHANGE = "x-medcode-exchange"  # where it was first published
ROUTING_KEY = "x-medcode-routing-key"
FAILED_AT = "x-medcode-failed-at"
# Quorum queues count deliveries themselves: a message whose handler crashes the process
# (no chance to count it) is still parked after EVENT_MAX_ATTEMPTS deliveries.
DELIVERY_COUNT = "x-delivery-count"
ROUTE_HEADERS = (ATTEMPTS, ERROR, TRACEBACK, QUEUE, FAILED_AT)
# What the broker adds on each hop; a copy starts without them (the attempts count above
# is the one that matters, and x-death would only grow).
BROKER_HEADERS = (
    DELIVERY_COUNT,
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
)
MAX_TRACEBACK = 4000


def load_settings() -> DeadLetterSettings:
    return read_settings(DeadLetterSettings, label="dead-letter configuration")


class Unprocessable(Exception):
    """Raised by a handler for a message no retry can fix (it breaks the schema): parked
    at once, without retries."""


def dead_letter_queue(service: str) -> str:
    return f"{service}.dead-letter"


def retry_queue(queue: str) -> str:
    return f"{queue}.retry"


def retry_queue_arguments(queue: str) -> dict:
    """The retry queue holds a message until its TTL runs out, then hands it back to
    `queue` only (default exchange, routing key = queue name)."""
    return {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue}


def backoff_seconds(failures: int, settings: DeadLetterSettings) -> float:
    return min(settings.EVENT_RETRY_DELAY * 2 ** max(failures - 1, 0), settings.EVENT_RETRY_MAX_DELAY)


def failures_so_far(headers: dict | None) -> int:
    """How many times the handlers failed this message before this delivery."""
    headers = headers or {}
    counted = int(headers.get(ATTEMPTS) or 0)
    delivered_before = int(headers.get(DELIVERY_COUNT) or 0)
    return max(counted, delivered_before)


def describe(exc: BaseException) -> tuple[str, str]:
    error = f"{type(exc).__name__}: {exc}"[:500]
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return error, text[-MAX_TRACEBACK:]


@dataclass(frozen=True)
class Decision:
    """What to do with a message whose handler just failed: `retry` it after `delay`
    seconds, or park it; `headers` are the ones the copy carries."""

    retry: bool
    delay: float
    headers: dict


def decide(
    headers: dict | None,
    exc: BaseException,
    *,
    queue: str,
    exchange: str,
    routing_key: str,
    settings: DeadLetterSettings,
) -> Decision:
    failures = failures_so_far(headers) + 1
    error, text = describe(exc)
    copy = {key: value for key, value in (headers or {}).items() if key not in BROKER_HEADERS}
    copy.setdefault(EXCHANGE, exchange)
    copy.setdefault(ROUTING_KEY, routing_key)
    copy.update({ATTEMPTS: failures, ERROR: error, QUEUE: queue})
    if isinstance(exc, Unprocessable) or failures >= settings.EVENT_MAX_ATTEMPTS:
        copy.update({TRACEBACK: text, FAILED_AT: datetime.now(UTC).isoformat(timespec="seconds")})
        return Decision(retry=False, delay=0.0, headers=copy)
    return Decision(retry=True, delay=backoff_seconds(failures, settings), headers=copy)


def replay_headers(headers: dict | None) -> dict:
    """A replayed message starts with a clean count; where it came from stays."""
    return {
        key: value for key, value in (headers or {}).items() if key not in ROUTE_HEADERS and key not in BROKER_HEADERS
    }


def new_message_id() -> str:
    return uuid.uuid4().hex


# --- operators' tool -----------------------------------------------------------------


@dataclass
class Parked:
    message_id: str
    queue: str  # the dead-letter queue it is parked in
    failed_in: str  # the consumer queue it failed in
    event: str  # exchange / routing key it was first published to
    attempts: int
    error: str
    failed_at: str
    body: bytes


def _known_services() -> list[str]:
    from .launcher import SERVICES

    return [*SERVICES, "gateway"]


class DeadLetters:
    """List and replay parked messages over a plain (blocking) AMQP connection.

    Listing takes every parked message without acknowledging it and gives them all back
    when the channel closes, so they keep their order and nothing is lost if the tool
    dies half way. A replay publishes (with confirms) and only then acknowledges."""

    def __init__(self, amqp_uri: str):
        from kombu import Connection

        self.connection = Connection(amqp_uri, connect_timeout=10)

    def __enter__(self) -> DeadLetters:
        self.connection.ensure_connection(max_retries=1)
        return self

    def __exit__(self, *exc) -> None:
        self.connection.release()

    def _queue_exists(self, queue: str) -> bool:
        from amqp.exceptions import NotFound

        channel = self.connection.channel()
        try:
            channel.queue_declare(queue, passive=True)
            return True
        except NotFound:
            return False
        finally:
            try:
                channel.close()
            except Exception:  # noqa: BLE001 - a failed passive declare closes it already
                pass

    def _existing(self, services: list[str]) -> list[str]:
        return [dead_letter_queue(s) for s in services if self._queue_exists(dead_letter_queue(s))]

    def _take(self, channel, queue: str) -> list[tuple[Any, Parked]]:
        taken: list[tuple[Any, Parked]] = []
        while True:
            message = channel.basic_get(queue, no_ack=False)
            if message is None:
                return taken
            props = message.properties
            headers = props.get("application_headers") or {}
            taken.append(
                (
                    message,
                    Parked(
                        message_id=props.get("message_id") or "",
                        queue=queue,
                        failed_in=str(headers.get(QUEUE, "")),
                        event=f"{headers.get(EXCHANGE, '')}/{headers.get(ROUTING_KEY, '')}",
                        attempts=int(headers.get(ATTEMPTS) or 0),
                        error=str(headers.get(ERROR, "")),
                        failed_at=str(headers.get(FAILED_AT, "")),
                        body=message.body if isinstance(message.body, bytes) else str(message.body).encode(),
                    ),
                )
            )

    def list(self, services: list[str] | None = None) -> list[Parked]:
        parked = []
        for queue in self._existing(services or _known_services()):
            channel = self.connection.channel()
            try:
                parked += [item for _, item in self._take(channel, queue)]
            finally:
                channel.close()  # everything taken goes back, in order
        return parked

    # builtins.list: `list` in this class body is the method above.
    def replay(self, message_ids: set[str] | None, services: builtins.list[str] | None = None) -> builtins.list[str]:
        """Send the chosen parked messages (all when `message_ids` is None) back to the
        queue they failed in; returns the ids replayed."""
        import amqp

        replayed = []
        for queue in self._existing(services or _known_services()):
            channel = self.connection.channel()
            channel.confirm_select()
            try:
                for message, item in self._take(channel, queue):
                    if message_ids is not None and item.message_id not in message_ids:
                        continue
                    if not item.failed_in:
                        continue  # not parked by this route: leave it for a person
                    props = dict(message.properties)
                    headers = props.get("application_headers") or {}
                    props["application_headers"] = replay_headers(headers)
                    copy = amqp.Message(message.body, **props)
                    if self._queue_exists(item.failed_in):
                        channel.basic_publish(copy, exchange="", routing_key=item.failed_in)
                    else:  # a process's own queue (the gateway's), gone with it: publish anew
                        channel.basic_publish(
                            copy, exchange=str(headers.get(EXCHANGE, "")), routing_key=str(headers.get(ROUTING_KEY, ""))
                        )
                    channel.basic_ack(message.delivery_tag)
                    replayed.append(item.message_id)
            finally:
                channel.close()
        return replayed


def _preview(body: bytes, limit: int = 120) -> str:
    """The event's type and id, never its personal fields (emails, names)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return f"<{len(body)} bytes, not JSON>"
    if isinstance(payload, dict):
        keep = {key: payload[key] for key in ("schema", "event_id", "occurred_at") if key in payload}
        return json.dumps(keep)[:limit]
    return f"<{type(payload).__name__}>"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m medcode_common.dead_letters", description="List or replay parked (dead-lettered) messages."
    )
    parser.add_argument("--service", action="append", help="only this service's dead letters (repeatable)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="show the parked messages (they stay parked)")
    replay = commands.add_parser("replay", help="send parked messages back to the queue they failed in")
    replay.add_argument("ids", nargs="*", help="message ids from `list`")
    replay.add_argument("--all", action="store_true", help="replay every parked message")
    args = parser.parse_args(argv)
    if args.command == "replay" and not args.ids and not args.all:
        parser.error("name the message ids to replay, or --all")

    from .broker_commands import run_on_broker

    def work(amqp_uri: str) -> int:
        with DeadLetters(amqp_uri) as dead_letters:
            if args.command == "list":
                parked = dead_letters.list(args.service)
                for item in parked:
                    print(
                        f"{item.message_id}  {item.queue}  failed in {item.failed_in} ({item.event})  "
                        f"{item.attempts} tries, {item.failed_at}\n    {item.error}\n    {_preview(item.body)}"
                    )
                print(f"{len(parked)} parked message(s)")
                return 0
            done = dead_letters.replay(None if args.all else set(args.ids), args.service)
            for message_id in done:
                print(f"replayed {message_id}")
            missing = set(args.ids) - set(done)
            if missing:
                print(f"not found: {' '.join(sorted(missing))}", file=sys.stderr)
                return 1
            return 0

    return run_on_broker(work)


if __name__ == "__main__":
    sys.exit(main())
