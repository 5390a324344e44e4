from nameko.testing.services import worker_factory

from accounts.service import AccountsService


def test_health_names_the_service():
    service = worker_factory(AccountsService)
    assert service.health() == {"service": "accounts", "status": "ok", "details": {}}
