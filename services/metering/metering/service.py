"""The `metering` service: code-page views and assistant questions per plan.

Thin entrypoints: validate the contract payload, call the domain, relay the events the
change committed, return JSON primitives. Handles accounts' events once per event_id.
"""

from __future__ import annotations

import logging

from nameko.timer import timer

from medcode_common.event_handlers import handle_event, parse_event
from medcode_common.nameko_service import OutboxService, expected
from medcode_common.rpc import answer_each, parse_request
from medcode_contracts import accounts, events
from medcode_contracts import metering as contract

from .dependencies import MeteringProvider, metering_events

log = logging.getLogger(__name__)
# How often the retention timer looks whether a purge is due (the interval is a setting).
RETENTION_TICK = 10


class MeteringService(OutboxService):
    name = contract.SERVICE

    metering = MeteringProvider()
    events = metering_events()

    @expected
    def check_views(self, request: dict) -> list:
        decisions = self._decide_views(parse_request(contract.CheckViewsRequest, request))
        self.events.after_commit()
        return decisions

    @expected
    def check_views_many(self, request: dict) -> list:
        """Concurrent callers' checks (the gateway coalesces them), each decided as
        check_views would decide it alone (its own transaction): decisions or its error."""
        checks = parse_request(contract.CheckViewsManyRequest, request).checks
        outcomes = answer_each(checks, self._decide_views)
        self.events.after_commit()
        return outcomes

    def _decide_views(self, check: contract.CheckViewsRequest) -> list:
        return [d.model_dump(mode="json") for d in self.metering.check_views(check)]

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

    # A store failure raises, so the event is retried with backoff and parked in
    # metering.dead-letter after EVENT_MAX_ATTEMPTS (the inbox makes a retry harmless); a
    # payload that breaks the schema is parked at once, since no retry can fix it.
    @handle_event(accounts.SERVICE, accounts.Events.USER_REGISTERED)
    def handle_user_registered(self, payload: dict):
        self.metering.on_user_registered(parse_event(events.UserRegistered, payload))

    @handle_event(accounts.SERVICE, accounts.Events.USER_DELETED)
    def handle_user_deleted(self, payload: dict):
        self.metering.on_user_deleted(parse_event(events.UserDeleted, payload))

    @timer(interval=RETENTION_TICK)
    def retention(self):
        """Purges rows of no further use every METERING_RETENTION_INTERVAL_SECONDS."""
        gone = self.metering.purge_if_due()
        if gone:
            log.info("retention: deleted %s", ", ".join(f"{n} {table}" for table, n in gone.items() if n) or "nothing")
