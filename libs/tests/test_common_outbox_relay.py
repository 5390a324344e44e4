"""The outbox relay against the real broker: events reach subscribers, and a fresh broker
without the `<service>.events` exchange does not block the relay."""

import pytest
import sqlalchemy as sa
from kombu import Connection, Exchange, Queue
from nameko import config

from medcode_common.db import make_engine
from medcode_common.nameko_outbox import OutboxRelay
from medcode_common.nameko_storage import EventRelay, dispose_engine
from medcode_common.outbox import Inbox, Outbox, inbox_table, outbox_table
from medcode_contracts.events import UserDeleted


@pytest.fixture
def store(tmp_path):
    metadata = sa.MetaData()
    outbox, inbox = Outbox(outbox_table(metadata, "t")), Inbox(inbox_table(metadata, "t"))
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    metadata.create_all(engine)
    return engine, outbox, inbox


def _relay(engine, outbox, amqp_uri=None):
    """A relay as a service would set it up; rabbit_config has patched nameko's config
    with a fresh vhost."""
    with config.patch({"AMQP_URI": amqp_uri} if amqp_uri else {}):
        relay = OutboxRelay(get_engine=lambda: engine, outbox=outbox)
        relay.setup()
    return relay.get_dependency(None)


def test_relay_publishes_on_a_fresh_broker_and_subscribers_receive_it(store, rabbit_config):
    engine, outbox, _ = store
    with engine.begin() as conn:
        outbox.add(conn, UserDeleted(user_id="u1"))
    relay = _relay(engine, outbox)
    assert relay() == 1  # no exchange existed yet: declared on publish, not an error
    with engine.connect() as conn:
        assert outbox.pending(conn) == 0

    with Connection(config["AMQP_URI"]) as connection:
        queue = Queue(
            "listener",
            Exchange("accounts.events", type="topic", durable=True),
            routing_key="user_deleted",
            channel=connection.default_channel,
        )
        queue.declare()
        with engine.begin() as conn:
            outbox.add(conn, UserDeleted(user_id="u2"))
        assert relay() == 1
        message = queue.get(no_ack=True)
        assert message is not None
        assert message.payload["user_id"] == "u2"
        assert message.payload["schema"] == "accounts.user_deleted/1"


def test_a_failed_publish_leaves_the_event_pending(store, rabbit_config):
    engine, outbox, _ = store
    with engine.begin() as conn:
        outbox.add(conn, UserDeleted(user_id="u1"))
    relay = _relay(engine, outbox, amqp_uri="amqp://guest:guest@127.0.0.1:1/")
    assert relay() == 0
    with engine.connect() as conn:
        assert outbox.pending(conn) == 1


def test_after_commit_relays_only_when_the_request_added_an_event(store, rabbit_config):
    engine, outbox, _ = store
    with config.patch({"DATABASE_URL": str(engine.url)}):
        events = EventRelay("t", outbox)
        events.setup()
        try:
            with engine.begin() as conn:
                outbox.add(conn, UserDeleted(user_id="u0"))  # before the request: the timer's to relay
            reading = events.get_dependency(None)  # a request that writes nothing
            assert reading.after_commit() == 0
            with engine.connect() as conn:
                assert outbox.pending(conn) == 1
            writing = events.get_dependency(None)
            with engine.begin() as conn:
                outbox.add(conn, UserDeleted(user_id="u1"))
            assert writing.after_commit() == 2  # its own event and the one pending before it
            assert events.get_dependency(None)() == 0  # the timer: nothing left
        finally:
            dispose_engine("t")


def test_inbox_claims_an_event_id_once(store):
    engine, _, inbox = store
    with engine.begin() as conn:
        assert inbox.first_time(conn, "e1") is True
    with engine.begin() as conn:
        assert inbox.first_time(conn, "e1") is False
        assert inbox.first_time(conn, "e2") is True


def test_a_relayed_batch_is_marked_in_one_update_and_a_failure_keeps_the_rest_pending(store):
    engine, outbox, _ = store
    with engine.begin() as conn:
        for n in range(4):
            outbox.add(conn, UserDeleted(user_id=f"u{n}"))
    updates: list[str] = []
    sa.event.listen(
        engine,
        "before_cursor_execute",
        lambda _c, _k, sql, *_a: updates.append(sql) if sql.lstrip().upper().startswith("UPDATE") else None,
    )
    published: list[str] = []

    def publish_two_then_fail(source, event_type, payload):
        if len(published) == 2:
            raise ConnectionError("broker away")
        published.append(payload["user_id"])

    with pytest.raises(ConnectionError):
        outbox.relay(engine, publish_two_then_fail)
    assert published == ["u0", "u1"] and len(updates) == 1
    with engine.connect() as conn:
        assert outbox.pending(conn) == 2
    updates.clear()
    assert outbox.relay(engine, lambda source, event_type, payload: published.append(payload["user_id"])) == 2
    assert published == ["u0", "u1", "u2", "u3"] and len(updates) == 1
    with engine.connect() as conn:
        assert outbox.pending(conn) == 0
