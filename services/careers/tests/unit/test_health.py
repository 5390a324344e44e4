from nameko.testing.services import worker_factory

from careers.service import CareersService


def test_health_names_the_service():
    service = worker_factory(CareersService)
    assert service.health() == {"service": "careers", "status": "ok", "details": {}}
