"""Nameko side of the outbox: a dependency that publishes pending outbox rows.

    class AccountsService:
        outbox_relay = OutboxRelay(get_engine=..., outbox=...)

        @timer(interval=0.5)
        def relay_events(self):
            self.outbox_relay()

Also call it right after a request commits, so events go out without waiting for the timer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from nameko import config, serialization
from nameko.amqp.publish import Publisher
from nameko.constants import AMQP_URI_CONFIG_KEY, DEFAULT_AMQP_URI
from nameko.extensions import DependencyProvider
from nameko.standalone.events import get_event_exchange

from .outbox import Outbox

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


class OutboxRelay(DependencyProvider):
    def __init__(self, get_engine: Callable[[], Engine], outbox: Outbox):
        self.get_engine = get_engine
        self.outbox = outbox
        self._publisher: Publisher | None = None

    def setup(self):
        # Publisher confirms are on by default: publish() raises if the broker refuses.
        serializer, _ = serialization.setup()
        self._publisher = Publisher(config.get(AMQP_URI_CONFIG_KEY, DEFAULT_AMQP_URI), serializer=serializer)

    def _publish(self, source: str, event_type: str, payload: dict) -> None:
        exchange = get_event_exchange(source)
        # Declare the exchange on publish: on a fresh broker no subscriber may have made it
        # yet, and publishing to a missing exchange fails instead of simply routing nowhere.
        assert self._publisher is not None, "setup() makes the publisher"
        self._publisher.publish(payload, exchange=exchange, routing_key=event_type, declare=[exchange])

    def check_ready(self) -> None:
        """Readiness (medcode_common.health): the service's database answers."""
        import sqlalchemy as sa

        with self.get_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def get_dependency(self, worker_ctx):
        def relay() -> int:
            try:
                return self.outbox.relay(self.get_engine(), self._publish)
            except Exception:  # the broker may be away; rows stay pending for the next tick
                log.warning("outbox relay failed; will retry", exc_info=True)
                return 0

        return relay
