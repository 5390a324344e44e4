"""The one way a Nameko service declares a domain-event handler: with dead letters.

    from medcode_common.event_handlers import handle_event, parse_event

    class MeteringService:
        @handle_event(accounts.SERVICE, accounts.Events.USER_DELETED)
        def handle_user_deleted(self, payload: dict):
            event = parse_event(events.UserDeleted, payload)   # Unprocessable if malformed
            self.metering.on_user_deleted(event)               # raise to retry

Like `nameko.events.event_handler` (same queue `evt-<source>-<type>--<service>.<method>`,
same exchange), except what happens when the handler raises: the message is retried with
backoff and, after EVENT_MAX_ATTEMPTS failures, parked in `<service>.dead-letter` with
the error (see medcode_common.dead_letters), instead of being requeued forever or lost.
Handlers must be idempotent (the inbox, keyed by event_id), as any redelivery may repeat.
"""

from __future__ import annotations

import logging

from kombu import Connection, Queue
from nameko import config, serialization
from nameko.amqp.publish import Publisher
from nameko.constants import AMQP_URI_CONFIG_KEY, DEFAULT_AMQP_URI
from nameko.events import EventHandler
from pydantic import BaseModel, ValidationError

from medcode_contracts.errors import first_error

from . import dead_letters
from .dead_letters import Unprocessable

log = logging.getLogger(__name__)

__all__ = ["DeadLetteringEventHandler", "handle_event", "parse_event", "Unprocessable"]


def parse_event(schema: type[BaseModel], payload) -> BaseModel:
    """`schema` validated from `payload`; Unprocessable (parked at once, not retried) if it
    does not fit, naming the first bad field but never echoing values (personal data)."""
    try:
        return schema.model_validate(payload)
    except ValidationError as exc:
        name = getattr(schema, "schema_id", lambda: schema.__name__)()
        raise Unprocessable(f"{name}: {first_error(exc, 'payload')}") from None


class DeadLetteringEventHandler(EventHandler):
    def __init__(self, source_service, event_type, **kwargs):
        kwargs.pop("requeue_on_error", None)  # the route below decides, never a blind requeue
        super().__init__(source_service, event_type, requeue_on_error=False, **kwargs)

    def setup(self):
        super().setup()
        self.settings = dead_letters.load_settings()
        serializer, _ = serialization.setup()
        self.publisher = Publisher(config.get(AMQP_URI_CONFIG_KEY, DEFAULT_AMQP_URI), serializer=serializer)
        name = self.queue.name
        self.retry_queue = Queue(
            dead_letters.retry_queue(name), durable=True, queue_arguments=dead_letters.retry_queue_arguments(name)
        )
        self.parking_queue = Queue(dead_letters.dead_letter_queue(self.container.service_name), durable=True)

    def start(self):
        # Declared up front, so an operator sees the (empty) route before anything fails.
        with Connection(self.publisher.amqp_uri) as connection:
            channel = connection.default_channel
            self.retry_queue.bind(channel).declare()
            self.parking_queue.bind(channel).declare()
        super().start()

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            self.consumer.ack_message(message)
            return
        exc = exc_info[1]
        info = message.delivery_info or {}
        decision = dead_letters.decide(
            message.headers,
            exc,
            queue=self.queue.name,
            exchange=info.get("exchange", ""),
            routing_key=info.get("routing_key", ""),
            settings=self.settings,
        )
        try:
            if decision.retry:
                self._copy_to(
                    self.retry_queue,
                    message,
                    decision.headers,
                    expiration=decision.delay,
                    message_id=message.properties.get("message_id"),
                )
                log.warning(
                    "%s failed (try %s of %s), retrying in %.1f s: %s",
                    self.queue.name,
                    decision.headers[dead_letters.ATTEMPTS],
                    self.settings.EVENT_MAX_ATTEMPTS,
                    decision.delay,
                    decision.headers[dead_letters.ERROR],
                )
            else:
                self._copy_to(self.parking_queue, message, decision.headers, message_id=dead_letters.new_message_id())
                log.error(
                    "%s failed %s time(s); parked in %s: %s",
                    self.queue.name,
                    decision.headers[dead_letters.ATTEMPTS],
                    self.parking_queue.name,
                    decision.headers[dead_letters.ERROR],
                )
        except Exception:  # the broker did not take the copy: keep the original instead
            log.warning("could not route the failed message of %s; requeued", self.queue.name, exc_info=True)
            self.consumer.requeue_message(message)
            return
        self.consumer.ack_message(message)

    def _copy_to(self, queue: Queue, message, headers: dict, **properties) -> None:
        """The failed message's payload, straight into one of our queues (the default exchange)."""
        self.publisher.publish(
            message.payload, exchange="", routing_key=queue.name, declare=[queue], headers=headers, **properties
        )


handle_event = DeadLetteringEventHandler.decorator
