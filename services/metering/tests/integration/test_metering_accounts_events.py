"""Accounts and metering over the real broker: registration carries a guest's views over,
deletion removes the user's meter, and a redelivered event changes nothing."""

import json

import pytest
import sqlalchemy as sa
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_hook, entrypoint_waiter

from accounts import storage as accounts_storage
from accounts.service import AccountsService
from medcode_common.nameko_storage import shared_engine
from metering import storage as metering_storage
from metering.service import MeteringService

pytestmark = pytest.mark.rabbit


@pytest.fixture
def services(rabbit_config, container_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))  # one SQLite file per service
    monkeypatch.delenv("DATABASE_URL", raising=False)
    accounts = container_factory(AccountsService)
    metering = container_factory(MeteringService)
    accounts.start()
    metering.start()
    return accounts, metering


def call(container, method, request):
    with entrypoint_hook(container, method) as hook:
        return hook(request)


def test_registration_carries_over_and_a_redelivery_is_ignored(services):
    accounts, metering = services
    guest_view = call(
        metering,
        "check_views",
        {"subject": "g1", "plan": "GUEST", "resources": ["ICD10CM:K22.0"], "client_ip": "1.1.1.1"},
    )
    assert guest_view[0]["granted"]
    with entrypoint_waiter(metering, "handle_user_registered"):
        auth = call(
            accounts,
            "register",
            {"email": "ann@example.org", "password": "s3cret-pass", "name": "Ann", "guest_id": "g1"},
        )
    user_id = auth["account"]["id"]
    assert call(metering, "get_meter", {"subject": user_id, "plan": "FREE"})["used"] == 1

    # The same event again (same event_id), pointing at a guest with other views: ignored.
    call(
        metering,
        "check_views",
        {"subject": "g2", "plan": "GUEST", "resources": ["ICD10CM:A00.0"], "client_ip": "1.1.1.2"},
    )
    with shared_engine("accounts").connect() as conn:
        table = accounts_storage.outbox.table
        payload = json.loads(
            conn.execute(sa.select(table.c.payload).where(table.c.event_type == "user_registered")).scalar_one()
        )
        assert (
            conn.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c.published_at.is_(None))
            ).scalar_one()
            == 0
        )
    with entrypoint_waiter(metering, "handle_user_registered"):
        event_dispatcher()("accounts", "user_registered", dict(payload, guest_id="g2"))
    assert call(metering, "get_meter", {"subject": user_id, "plan": "FREE"})["used"] == 1


def test_deleting_an_account_deletes_its_meter(services):
    accounts, metering = services
    auth = call(accounts, "register", {"email": "bob@example.org", "password": "s3cret-pass", "name": "Bob"})
    user_id = auth["account"]["id"]
    call(metering, "check_views", {"subject": user_id, "plan": "FREE", "resources": ["A:1", "A:2"]})
    with entrypoint_waiter(metering, "handle_user_deleted"):
        assert call(accounts, "delete_account", {"token": auth["token"]}) is True
    with shared_engine("metering").connect() as conn:
        rows = conn.execute(
            sa.select(sa.func.count())
            .select_from(metering_storage.views)
            .where(metering_storage.views.c.subject_key == f"user:{user_id}")
        ).scalar_one()
    assert rows == 0
    assert call(metering, "get_meter", {"subject": user_id, "plan": "FREE"})["used"] == 0
