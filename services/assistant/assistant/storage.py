"""Conversations of the assistant: SQLAlchemy Core tables, SQLite or PostgreSQL.

A question and its answer are stored in one transaction together with their events
(`question_received`, `answer_ready`, in `assistant_outbox`) and, when the caller gave a
request id, the request's key, so a retried request finds its answer instead of asking
again. Questions and answers are personal data: deleting an account deletes its
conversations (`user_deleted`, once per event through the inbox).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from medcode_common.migrations import Schema
from medcode_common.outbox import Inbox, Outbox, inbox_table, outbox_table
from medcode_common.transactions import insert_ignoring_duplicates
from medcode_contracts import events
from medcode_contracts.assistant import Answer, Channel, Message

PREFIX = "assistant"
SCHEMA = Schema.of("assistant")  # assistant.migrations, alembic_version_assistant

metadata = sa.MetaData()


def _conversation_id() -> sa.Column:
    """The conversation a row belongs to: deleting the conversation deletes the row."""
    return sa.Column(
        "conversation_id",
        sa.String(36),
        sa.ForeignKey("assistant_conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )


conversations = sa.Table(
    "assistant_conversations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("owner", sa.String(120), nullable=False, index=True),  # "user:<id>" or "guest:<subject>"
    sa.Column("channel", sa.String(10), nullable=False),
    sa.Column("context", sa.Text, nullable=False),  # codes and intent of the last turn
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

messages = sa.Table(
    "assistant_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _conversation_id(),
    sa.Column("role", sa.String(10), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=True),  # the Answer (JSON) of an assistant message
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

# One row per request id a caller gave (the mail ingress: one per Message-ID).
requests = sa.Table(
    "assistant_requests",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),  # sha256 of owner and request id
    _conversation_id(),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

outbox = Outbox(outbox_table(metadata, PREFIX))
inbox = Inbox(inbox_table(metadata, PREFIX))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass
class StoredConversation:
    id: str
    owner: str
    channel: Channel
    context: dict


@dataclass
class Turn:
    conversation_id: str
    owner: str
    channel: Channel
    new_conversation: bool
    context: dict
    question: str
    answer: Answer
    at: datetime
    request_key: str | None
    question_event: events.QuestionReceived
    answer_event: events.AnswerReady


class _AlreadyAnswered(Exception):
    """Rolls back a turn whose request another worker answered meanwhile."""


class ConversationStore:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def get(self, conversation_id: str) -> StoredConversation | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(conversations).where(conversations.c.id == conversation_id)).first()
        if row is None:
            return None
        return StoredConversation(row.id, row.owner, Channel(row.channel), json.loads(row.context))

    def messages(self, conversation_id: str) -> list[Message]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(messages.c.role, messages.c.text, messages.c.at)
                .where(messages.c.conversation_id == conversation_id)
                .order_by(messages.c.id)
            ).all()
        return [Message(role=r.role, text=r.text, at=_utc(r.at).isoformat()) for r in rows]

    def answer_for_request(self, request_key: str) -> Answer | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(requests.c.answer).where(requests.c.key == request_key)).first()
        return Answer.model_validate_json(row.answer) if row else None

    def record(self, turn: Turn) -> Answer:
        """Stores the turn; returns the answer stored for the request when a concurrent
        retry of the same request got there first (then nothing of this turn is kept)."""
        try:
            with self.engine.begin() as conn:
                if turn.new_conversation:
                    self._insert_conversation(conn, turn)
                else:
                    conn.execute(
                        conversations.update()
                        .where(conversations.c.id == turn.conversation_id)
                        .values(context=json.dumps(turn.context), updated_at=turn.at)
                    )
                if turn.request_key is not None and not insert_ignoring_duplicates(
                    conn,
                    requests,
                    key=turn.request_key,
                    conversation_id=turn.conversation_id,
                    answer=turn.answer.model_dump_json(),
                    created_at=turn.at,
                ):
                    raise _AlreadyAnswered
                conn.execute(
                    messages.insert(),
                    [
                        dict(
                            conversation_id=turn.conversation_id,
                            role="user",
                            text=turn.question,
                            answer=None,
                            at=turn.at,
                        ),
                        dict(
                            conversation_id=turn.conversation_id,
                            role="assistant",
                            text=turn.answer.text,
                            answer=turn.answer.model_dump_json(),
                            at=turn.at,
                        ),
                    ],
                )
                outbox.add(conn, turn.question_event)
                outbox.add(conn, turn.answer_event)
        except _AlreadyAnswered:
            assert turn.request_key is not None  # raised only for a request key already stored
            earlier = self.answer_for_request(turn.request_key)
            assert earlier is not None  # stored with its key, in one transaction
            return earlier
        return turn.answer

    @staticmethod
    def _insert_conversation(conn: sa.Connection, turn: Turn) -> None:
        conn.execute(
            conversations.insert().values(
                id=turn.conversation_id,
                owner=turn.owner,
                channel=turn.channel.value,
                context=json.dumps(turn.context),
                created_at=turn.at,
                updated_at=turn.at,
            )
        )

    def delete_owner(self, owner: str, event_id: str | None = None) -> int:
        """Deletes every conversation of `owner` (once per event id); returns how many."""
        with self.engine.begin() as conn:
            if event_id is not None and not inbox.first_time(conn, event_id):
                return 0
            ids = [r.id for r in conn.execute(sa.select(conversations.c.id).where(conversations.c.owner == owner))]
            if ids:
                conn.execute(requests.delete().where(requests.c.conversation_id.in_(ids)))
                conn.execute(messages.delete().where(messages.c.conversation_id.in_(ids)))
                conn.execute(conversations.delete().where(conversations.c.id.in_(ids)))
        return len(ids)

    def pending_events(self) -> int:
        with self.engine.connect() as conn:
            return outbox.pending(conn)
