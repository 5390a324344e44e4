"""`make events` over the real broker: each live domain event shows as one line with its
time, type and id, and none of its personal fields."""

import io

import eventlet
import pytest
from nameko import config
from nameko.standalone.events import event_dispatcher

from medcode_common.event_tail import describe, tail
from medcode_contracts.events import UserDeleted, UserRegistered

pytestmark = pytest.mark.rabbit


def test_the_tail_shows_type_id_and_time_but_no_personal_field(rabbit_config):
    out, ready = io.StringIO(), eventlet.Event()
    tailing = eventlet.spawn(tail, config["AMQP_URI"], ["accounts"], 2, out, lambda: ready.send(True))
    ready.wait(timeout=30)
    registered = UserRegistered(user_id="u1", email="ann@example.org", plan="FREE", role="MEMBER", guest_id="g1")
    deleted = UserDeleted(user_id="u1")
    dispatch = event_dispatcher()
    dispatch("accounts", "user_registered", registered.payload())
    dispatch("accounts", "user_deleted", deleted.payload())
    with eventlet.Timeout(30):
        assert tailing.wait() == 2
    lines = out.getvalue().splitlines()
    assert lines == [
        f"{registered.occurred_at}  accounts.user_registered  {registered.event_id}  accounts.user_registered/1",
        f"{deleted.occurred_at}  accounts.user_deleted  {deleted.event_id}  accounts.user_deleted/1",
    ]
    assert "ann@example.org" not in out.getvalue() and "u1" not in out.getvalue()


def test_a_body_that_is_not_an_event_is_named_not_printed():
    assert describe("x", "codes.events", b"secret text").endswith("codes.x  <not a JSON object>")
