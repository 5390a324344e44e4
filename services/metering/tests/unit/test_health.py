from nameko.testing.services import worker_factory

from metering.service import MeteringService


def test_health_names_the_service():
    service = worker_factory(MeteringService)
    assert service.health() == {"service": "metering", "status": "ok", "details": {}}
