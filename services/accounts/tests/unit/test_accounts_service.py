"""The service class over a real store (SQLite), its outbox relay replaced by a mock."""

from unittest.mock import Mock

import pytest
from nameko.testing.services import worker_factory

from accounts.config import load_accounts_settings
from accounts.dependencies import build_accounts
from accounts.service import AccountsService
from medcode_contracts.errors import BadRequest, Unauthenticated


@pytest.fixture
def service(tmp_path):
    from accounts import storage
    from medcode_common.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'accounts.sqlite3'}")
    storage.SCHEMA.upgrade(engine)
    yield worker_factory(AccountsService, accounts=build_accounts(engine, load_accounts_settings()), events=Mock())
    engine.dispose()


def test_health_names_the_service(service):
    assert service.health() == {"service": "accounts", "status": "ok", "details": {}}


def test_register_then_authenticate_returns_json_without_secrets(service):
    auth = service.register({"email": "ann@example.org", "password": "s3cret-pass", "name": "Ann"})
    service.events.after_commit.assert_called_once_with()
    assert set(auth) == {"token", "expires_at", "account"}
    assert set(auth["account"]) == {"id", "email", "name", "plan", "role", "created_at"}
    assert service.authenticate({"token": auth["token"]}) == auth["account"]
    assert service.get_account({"token": auth["token"]}) == auth["account"]
    assert service.logout({"token": auth["token"]}) is True
    with pytest.raises(Unauthenticated):
        service.authenticate({"token": auth["token"]})


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"email": "ann@example.org", "name": "Ann"}, "password"),
        ({"email": "ann@example.org", "password": "s3cret-pass", "name": "Ann", "role": "KING"}, "role"),
        ({"email": "ann@example.org", "password": "s3cret-pass", "name": "Ann", "admin": True}, "admin"),
        ("not an object", "request"),
    ],
)
def test_bad_requests_name_the_field_and_never_echo_the_password(service, payload, field):
    with pytest.raises(BadRequest, match=field) as error:
        service.register(payload)
    assert "s3cret" not in str(error.value)


def test_login_and_delete(service):
    service.register({"email": "ann@example.org", "password": "s3cret-pass", "name": "Ann"})
    auth = service.login({"email": "ANN@example.org", "password": "s3cret-pass", "client_ip": "1.2.3.4"})
    assert service.delete_account({"token": auth["token"]}) is True
    with pytest.raises(Unauthenticated):
        service.login({"email": "ann@example.org", "password": "s3cret-pass"})


def test_find_account_by_address_for_the_mail_ingress(service):
    auth = service.register({"email": "Mailer@Example.org", "password": "s3cret-pass", "name": "M"})
    assert service.find_account({"email": " mailer@EXAMPLE.org "}) == auth["account"]
    assert service.find_account({"email": "nobody@example.org"}) is None
    assert service.find_account({"email": "not an address"}) is None
