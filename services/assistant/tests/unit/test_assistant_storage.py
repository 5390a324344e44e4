"""Conversations on SQLite and PostgreSQL: a turn and its two events commit together, a
request id is answered once, deleting an account deletes its conversations (once per
event), and the migrations go up and down."""

from datetime import UTC, datetime

import sqlalchemy as sa

from assistant import storage
from assistant.domain import request_key
from medcode_contracts import events
from medcode_contracts.assistant import Answer, Channel, Intent

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def turn(conversation_id="c-1", owner="user:u-1", new=True, request=None, answer_id="a-1", question="q?"):
    answer = Answer(id=answer_id, conversation_id=conversation_id, text="made-up answer", intent=Intent.MUE)
    return storage.Turn(
        conversation_id=conversation_id,
        owner=owner,
        channel=Channel.EMAIL,
        new_conversation=new,
        context={"intent": "MUE", "codes": []},
        question=question,
        answer=answer,
        at=NOW,
        request_key=request,
        question_event=events.QuestionReceived(
            conversation_id=conversation_id, channel="email", user_id="u-1", question=question
        ),
        answer_event=events.AnswerReady(
            conversation_id=conversation_id, answer_id=answer_id, channel="email", intent="MUE", user_id="u-1"
        ),
    )


def test_a_turn_is_stored_with_its_events(assistant_engine):
    store = storage.ConversationStore(assistant_engine)
    store.record(turn())
    store.record(turn(new=False, answer_id="a-2", question="and 2 units?"))
    stored = store.get("c-1")
    assert (stored.owner, stored.channel, stored.context["intent"]) == ("user:u-1", Channel.EMAIL, "MUE")
    messages = store.messages("c-1")
    assert [(m.role, m.text) for m in messages] == [
        ("user", "q?"),
        ("assistant", "made-up answer"),
        ("user", "and 2 units?"),
        ("assistant", "made-up answer"),
    ]
    assert messages[0].at == NOW.isoformat()
    assert store.pending_events() == 4
    assert store.get("nope") is None


def test_a_request_id_is_answered_once(assistant_engine):
    store = storage.ConversationStore(assistant_engine)
    key = request_key("user:u-1", "<m1@example.org>")
    first = store.record(turn(request=key))
    # A concurrent retry that composed its own answer gets the first one, and writes nothing.
    again = store.record(turn(conversation_id="c-2", request=key, answer_id="a-9"))
    assert again.id == first.id == "a-1"
    assert store.get("c-2") is None and store.answer_for_request(key).id == "a-1"
    assert store.pending_events() == 2
    assert request_key("user:u-2", "<m1@example.org>") != key  # per owner


def test_deleting_an_account_deletes_its_conversations_once(assistant_engine):
    store = storage.ConversationStore(assistant_engine)
    store.record(turn(request=request_key("user:u-1", "r")))
    store.record(turn(conversation_id="c-3", owner="user:u-2", answer_id="a-3"))
    assert store.delete_owner("user:u-1", "event-1") == 1
    assert store.get("c-1") is None and store.messages("c-1") == [] and store.get("c-3") is not None
    store.record(turn(conversation_id="c-4", answer_id="a-4"))
    assert store.delete_owner("user:u-1", "event-1") == 0  # a redelivered event does nothing


def test_migrations_go_down_and_up(assistant_engine):
    storage.SCHEMA.downgrade(assistant_engine)
    assert "assistant_conversations" not in sa.inspect(assistant_engine).get_table_names()
    storage.SCHEMA.upgrade(assistant_engine)
    assert {
        "assistant_conversations",
        "assistant_messages",
        "assistant_requests",
        "assistant_outbox",
        "assistant_inbox",
    } <= set(sa.inspect(assistant_engine).get_table_names())
