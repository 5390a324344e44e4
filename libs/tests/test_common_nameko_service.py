"""The base classes of the platform's Nameko services: what a subclass gets without
declaring it."""

from unittest.mock import Mock

from nameko.containers import ServiceContainer
from nameko.extensions import DependencyProvider
from nameko.testing.services import worker_factory
from nameko.timer import Timer

from medcode_common.nameko_rpc import Rpc
from medcode_common.nameko_service import OutboxService, PlatformService, expected
from medcode_contracts.errors import NotFound, PlatformError


class Plain(PlatformService):
    name = "plain"


class WithDetails(PlatformService):
    name = "detailed"

    def health_details(self) -> dict[str, str]:
        return {"ICD10CM": "2026"}


class WithOutbox(OutboxService):
    name = "outboxed"
    events = DependencyProvider()  # stands for an EventRelay: what matters is that the timer calls it

    @expected
    def find(self, request: dict) -> dict:
        raise NotFound("nothing")


def entrypoints(service_cls) -> dict[str, type]:
    return {e.method_name: type(e) for e in ServiceContainer(service_cls).entrypoints}


def test_every_service_answers_health_with_its_own_name_and_details():
    assert worker_factory(Plain).health() == {"service": "plain", "status": "ok", "details": {}}
    assert worker_factory(WithDetails).health()["details"] == {"ICD10CM": "2026"}
    assert entrypoints(Plain) == {"health": Rpc}


def test_an_outbox_service_relays_on_a_timer_and_its_use_cases_expect_platform_errors():
    found = entrypoints(WithOutbox)
    assert found == {"health": Rpc, "find": Rpc, "relay_events": Timer}
    (find,) = (e for e in ServiceContainer(WithOutbox).entrypoints if e.method_name == "find")
    assert find.expected_exceptions is PlatformError
    relay = Mock()
    worker_factory(WithOutbox, events=relay).relay_events()
    relay.assert_called_once_with()
