from nameko.testing.services import worker_factory

from assistant.service import AssistantService


def test_health_names_the_service():
    service = worker_factory(AssistantService)
    assert service.health() == {"service": "assistant", "status": "ok", "details": {}}
