"""The `metering` service: code-page views and assistant questions per plan.

Thin entrypoints: validate the contract payload, call the domain, relay the events the
change committed, return JSON primitives. Handles accounts' events once per event_id.
"""
from __future__ import annotations

import logging

from nameko.events import event_handler
from nameko.rpc import rpc
from nameko.timer import timer
from pydantic import ValidationError

from medcode_common.rpc import parse_request
from medcode_contracts import accounts, events
from medcode_contracts import metering as contract
from medcode_contracts.common import Health
from medcode_contracts.errors import PlatformError

from .dependencies import MeteringProvider, metering_events

log = logging.getLogger(__name__)
# How often the retention timer looks whether a purge is due (the interval is a setting).
RETENTION_TICK = 10
expected = rpc(expected_exceptions=PlatformError)


def _parse_event(schema: type[events.Event], payload):
    try:
        return schema.model_validate(payload)
    except ValidationError as exc:
        log.error("dropping malformed %s event: %s", schema.schema_id(), exc.errors()[:1])
        return None


class MeteringService:
    name = contract.SERVICE

    metering = MeteringProvider()
    events = metering_events()

    @rpc
    def health(self) -> dict:
        return Health(service=self.name).model_dump(mode="json")

    @expected
    def check_views(self, request: dict) -> list:
        decisions = self.metering.check_views(parse_request(contract.CheckViewsRequest, request))
        self.events.after_commit()
        return [d.model_dump(mode="json") for d in decisions]

    @expected
    def get_meter(self, request: dict) -> dict:
        return self.metering.get_meter(parse_request(contract.MeterRequest, request)).model_dump(mode="json")

    @expected
    def check_questions(self, request: dict) -> dict:
        decision = self.metering.check_questions(parse_request(contract.MeterRequest, request))
        return decision.model_dump(mode="json")

    @expected
    def check_claim(self, request: dict) -> dict:
        decision = self.metering.check_claim(parse_request(contract.MeterRequest, request))
        return decision.model_dump(mode="json")

    @expected
    def carry_over(self, request: dict) -> dict:
        return self.metering.carry_over(parse_request(contract.CarryOverRequest, request)).model_dump(mode="json")

    # A store failure raises, so the message is requeued and retried (the inbox makes a
    # retry harmless); a payload that breaks the schema is logged and dropped, since no
    # retry can fix it.
    @event_handler(accounts.SERVICE, accounts.Events.USER_REGISTERED, requeue_on_error=True)
    def handle_user_registered(self, payload: dict):
        event = _parse_event(events.UserRegistered, payload)
        if event is not None:
            self.metering.on_user_registered(event)

    @event_handler(accounts.SERVICE, accounts.Events.USER_DELETED, requeue_on_error=True)
    def handle_user_deleted(self, payload: dict):
        event = _parse_event(events.UserDeleted, payload)
        if event is not None:
            self.metering.on_user_deleted(event)

    @timer(interval=RETENTION_TICK)
    def retention(self):
        """Purges rows of no further use every METERING_RETENTION_INTERVAL_SECONDS."""
        gone = self.metering.purge_if_due()
        if gone:
            log.info("retention: deleted %s", ", ".join(f"{n} {table}" for table, n in gone.items() if n) or "nothing")

    @timer(interval=1)
    def relay_events(self):
        """Publishes whatever a request committed but could not relay (broker away, crash)."""
        self.events()
