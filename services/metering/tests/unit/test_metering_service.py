"""The service class over a real store (SQLite), its outbox relay replaced by a mock."""

from unittest.mock import Mock

import pytest
from nameko.testing.services import worker_factory

from medcode_common.event_handlers import Unprocessable
from medcode_contracts import events
from medcode_contracts.errors import BadRequest
from metering import storage
from metering.config import load_metering_settings
from metering.domain import Metering, Quotas
from metering.service import MeteringService


@pytest.fixture
def service(tmp_path):
    from medcode_common.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'metering.sqlite3'}")
    storage.SCHEMA.upgrade(engine)
    store = storage.MeterStore(engine, Quotas.from_settings(load_metering_settings()))
    yield worker_factory(MeteringService, metering=Metering(store), events=Mock())
    engine.dispose()


def test_check_views_answers_in_request_order_and_relays(service):
    answer = service.check_views(
        {"subject": "g1", "plan": "GUEST", "resources": ["A:1", "A:2"], "client_ip": "1.1.1.1"}
    )
    assert [(d["resource"], d["granted"]) for d in answer] == [("A:1", True), ("A:2", False)]
    assert set(answer[0]) == {"resource", "granted", "remaining", "limit", "reason"}
    service.events.after_commit.assert_called_once_with()
    assert service.get_meter({"subject": "g1", "plan": "GUEST"}) == {
        "plan": "GUEST",
        "limit": 1,
        "used": 1,
        "remaining": 0,
    }


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"subject": "g1", "plan": "GOLD", "resources": ["A:1"]}, "plan"),
        ({"subject": "g1", "plan": "FREE", "resources": []}, "resources"),
        ({"subject": "g1", "plan": "FREE", "resources": ["A:1"] * 201}, "resources"),
        ({"subject": "", "plan": "FREE", "resources": ["A:1"]}, "subject"),
    ],
)
def test_bad_requests_are_refused_clearly(service, payload, field):
    with pytest.raises(BadRequest, match=field):
        service.check_views(payload)


def test_carry_over_rpc_and_the_event_handler_agree(service):
    service.check_views({"subject": "g1", "plan": "GUEST", "resources": ["A:1"], "client_ip": "1.1.1.1"})
    assert service.carry_over({"guest_id": "g1", "user_id": "u1"})["used"] == 1
    event = events.UserRegistered(user_id="u1", email="a@example.org", plan="FREE", role="MEMBER", guest_id="g1")
    service.handle_user_registered(event.payload())
    assert service.get_meter({"subject": "u1", "plan": "FREE"})["used"] == 1


def test_a_malformed_event_is_unprocessable_so_it_is_parked_not_retried(service):
    with pytest.raises(Unprocessable, match="user_id") as raised:
        service.handle_user_deleted({"schema": "accounts.user_deleted/1", "nonsense": True})
    assert "nonsense" not in str(raised.value)


def test_questions(service):
    assert service.check_questions({"subject": "u1", "plan": "FREE"})["granted"] is True


def test_check_views_many_decides_each_check_as_check_views_would(service, tmp_path):
    from medcode_common.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'alone.sqlite3'}")
    storage.SCHEMA.upgrade(engine)
    alone = worker_factory(
        MeteringService,
        metering=Metering(storage.MeterStore(engine, Quotas.from_settings(load_metering_settings()))),
        events=Mock(),
    )
    checks = [
        {"subject": "g1", "plan": "GUEST", "resources": ["A:1", "A:2"], "client_ip": "1.1.1.1"},
        {"subject": "u1", "plan": "FREE", "resources": ["A:1"]},
        {"subject": "g1", "plan": "GUEST", "resources": ["A:1"], "client_ip": "1.1.1.1"},  # seen by the first
        {"subject": "u2", "plan": "PRO", "resources": ["A:3", "A:3"]},
    ]
    outcomes = service.check_views_many({"checks": checks})
    assert [o["result"] for o in outcomes] == [alone.check_views(check) for check in checks]
    assert all("error" not in o for o in outcomes)
    service.events.after_commit.assert_called_once_with()  # one relay for the whole call
    engine.dispose()


def test_one_checks_error_fails_no_other_and_a_bad_batch_is_refused(service):
    real = service.metering.check_views

    def refuse_u2(check):
        if check.subject == "u2":
            raise BadRequest("u2 may not")
        return real(check)

    service.metering.check_views = refuse_u2
    checks = [{"subject": s, "plan": "FREE", "resources": ["A:1"]} for s in ("u1", "u2", "u3")]
    first, refused, third = service.check_views_many({"checks": checks})
    assert first["result"][0]["granted"] and third["result"][0]["granted"]
    assert refused["error"]["exc_path"] == "medcode_contracts.errors.BadRequest"
    assert refused["error"]["exc_args"] == ["u2 may not"]
    with pytest.raises(BadRequest, match="checks"):
        service.check_views_many({"checks": []})
    with pytest.raises(BadRequest, match="checks.0.plan"):
        service.check_views_many({"checks": [{"subject": "u1", "plan": "GOLD", "resources": ["A:1"]}]})
