"""What every Nameko service class of the platform declares alike, declared once:

    class MeteringService(OutboxService):
        name = contract.SERVICE

        metering = MeteringProvider()
        events = metering_events()

        @expected
        def get_meter(self, request: dict) -> dict: ...

Nameko finds entrypoints and dependencies on base classes as on the class itself, so
`health` and `relay_events` below are each service's own RPC and timer.
"""

from __future__ import annotations

from typing import Any

from nameko.timer import timer

from medcode_contracts.common import Health
from medcode_contracts.errors import PlatformError

from .nameko_rpc import rpc

# The entrypoint of a use case: a PlatformError it raises (bad input, not found, ...) is
# the caller's answer, not a fault of the service.
expected = rpc(expected_exceptions=PlatformError)


class PlatformService:
    """Answers `health`; a service shows more there by overriding `health_details`."""

    name: str

    @rpc
    def health(self) -> dict:
        return Health(service=self.name, details=self.health_details()).model_dump(mode="json")

    def health_details(self) -> dict[str, str]:
        return {}


class OutboxService(PlatformService):
    """A service whose changes commit their events with them (an outbox). The subclass
    declares `events` (an EventRelay over its own outbox); a use case relays what it
    committed with `self.events.after_commit()`, and this timer catches up on the rest."""

    events: Any  # the EventRelay's relay, as Nameko injects it into a worker

    @timer(interval=1)
    def relay_events(self):
        """Publishes whatever a request committed but could not relay (broker away, crash)."""
        self.events()
