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
from typing import Callable

from nameko.extensions import DependencyProvider
from nameko.standalone.events import event_dispatcher

from .outbox import Outbox

log = logging.getLogger(__name__)


class OutboxRelay(DependencyProvider):
    def __init__(self, get_engine: Callable[[], object], outbox: Outbox):
        self.get_engine = get_engine
        self.outbox = outbox
        self._dispatch = None

    def setup(self):
        # Publisher confirms are on by default: publish() raises if the broker refuses.
        self._dispatch = event_dispatcher()

    def _publish(self, source: str, event_type: str, payload: dict) -> None:
        self._dispatch(source, event_type, payload)

    def get_dependency(self, worker_ctx):
        def relay() -> int:
            try:
                return self.outbox.relay(self.get_engine(), self._publish)
            except Exception:  # the broker may be away; rows stay pending for the next tick
                log.warning("outbox relay failed; will retry", exc_info=True)
                return 0
        return relay
