"""The ingress's table on SQLite and PostgreSQL: a Message-ID is stored once, pending mail
comes due, waits after a failure, and answered mail remembers its thread."""

from datetime import timedelta

import pytest

from mail_ingress.store import SCHEMA, MailStore, utcnow
from medcode_common.db import make_engine


@pytest.fixture
def store(database_url):
    engine = make_engine(database_url)
    SCHEMA.upgrade(engine)
    yield MailStore(engine)
    engine.dispose()


def test_a_message_id_is_stored_once(store):
    assert store.accept("m1@x", "jane@example.org", b"raw") is True
    assert store.accept("m1@x", "jane@example.org", b"raw again") is False
    [due] = store.due()
    assert (due.message_id, due.raw, due.attempts) == ("m1@x", b"raw", 0)


def test_a_due_mail_is_claimed_by_one_process_for_the_lease(store):
    store.accept("m1@x", None, b"raw")
    [due] = store.due(lease=60)
    assert store.due() == []  # another replica finds nothing
    [again] = store.due(utcnow() + timedelta(seconds=61))  # its holder died: due after the lease
    assert again.id == due.id


def test_a_failed_mail_waits_then_comes_due_again(store):
    store.accept("m1@x", None, b"raw")
    [due] = store.due()
    store.retry_later(due.id, 30, "Unavailable: assistant away")
    assert store.due() == [] and 25 < store.next_due_in() <= 30
    [again] = store.due(utcnow() + timedelta(seconds=31))
    assert again.attempts == 1


def test_answered_mail_keeps_its_thread_and_drops_the_raw_mail(store):
    store.accept("m1@x", None, b"raw")
    [due] = store.due()
    store.answered(due.id, "Jane@Example.org", guest=True, conversation_id="c-1", reply_message_id="r1@localhost")
    assert store.due() == [] and store.next_due_in() is None
    assert store.conversation_of_thread(["zz@x", "r1@localhost"], "jane@example.org") == "c-1"
    assert store.conversation_of_thread(["r1@localhost"], "mallory@example.org") is None  # not their thread
    assert store.guest_answers("jane@example.org") == 1
    assert store.counts() == {"answered": 1}


def test_ignored_mail_is_never_due(store):
    store.accept("m1@x", None, b"raw")
    [due] = store.due()
    store.ignore(due.id, "an automatic message", "jane@example.org")
    assert store.due() == [] and store.counts() == {"ignored": 1}
