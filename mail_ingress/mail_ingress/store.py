"""The mail ingress's own table (SQLite by default, PostgreSQL in production): every mail
accepted for the assistant, stored before the listener answers 250, with where its
processing stands. The Message-ID is unique, so a redelivered mail is stored once and
answered once.

States: `pending` (to answer; `next_attempt_at` says when), `answered` (the reply went to
the relay), `ignored` (never to be answered: auto-reply, bounce, own mail, no question).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from medcode_common.migrations import Schema
from medcode_common.transactions import insert_ignoring_duplicates

SCHEMA = Schema.of("mail_ingress")  # mail_ingress.migrations, alembic_version_mail_ingress

metadata = sa.MetaData()

mails = sa.Table(
    "mail_ingress_mails",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(300), nullable=False, unique=True),
    sa.Column("envelope_sender", sa.String(320), nullable=True),
    sa.Column("raw", sa.LargeBinary, nullable=True),  # dropped once answered or ignored
    sa.Column("state", sa.String(10), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sender_key", sa.String(64), nullable=True, index=True),  # sha256 of the From address
    sa.Column("guest", sa.Boolean, nullable=True),
    sa.Column("conversation_id", sa.String(64), nullable=True),
    sa.Column("reply_message_id", sa.String(300), nullable=True, index=True),
    sa.Column("note", sa.String(200), nullable=True),  # why ignored, or the last failure
    sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
)

PENDING, ANSWERED, IGNORED = "pending", "answered", "ignored"


def utcnow() -> datetime:
    return datetime.now(UTC)


def sender_key(address: str) -> str:
    return hashlib.sha256(address.lower().encode()).hexdigest()


@dataclass
class StoredMail:
    id: int
    message_id: str
    envelope_sender: str | None
    raw: bytes
    attempts: int


class MailStore:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def accept(self, message_id: str, envelope_sender: str | None, raw: bytes, now: datetime | None = None) -> bool:
        """Stores a mail durably (committed when this returns); False when a mail with this
        Message-ID is already stored (a redelivery: nothing more to do)."""
        now = now or utcnow()
        with self.engine.begin() as conn:
            return insert_ignoring_duplicates(
                conn,
                mails,
                message_id=message_id,
                envelope_sender=envelope_sender,
                raw=raw,
                state=PENDING,
                attempts=0,
                next_attempt_at=now,
                received_at=now,
            )

    def due(self, now: datetime | None = None, limit: int = 20, lease: float = 120.0) -> list[StoredMail]:
        """Pending mail whose time has come, each claimed for `lease` seconds: another
        process (a second replica, an overlapping restart) skips it meanwhile, and a
        process that dies holding it only delays it by the lease."""
        now = now or utcnow()
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    mails.c.id,
                    mails.c.message_id,
                    mails.c.envelope_sender,
                    mails.c.raw,
                    mails.c.attempts,
                    mails.c.next_attempt_at,
                )
                .where(mails.c.state == PENDING, mails.c.next_attempt_at <= now)
                .order_by(mails.c.id)
                .limit(limit)
            ).all()
        claimed = []
        for row in rows:
            with self.engine.begin() as conn:
                taken = conn.execute(
                    mails.update()
                    .where(
                        mails.c.id == row.id, mails.c.state == PENDING, mails.c.next_attempt_at == row.next_attempt_at
                    )
                    .values(next_attempt_at=now + timedelta(seconds=lease))
                ).rowcount
            if taken == 1:
                claimed.append(StoredMail(row.id, row.message_id, row.envelope_sender, row.raw, row.attempts))
        return claimed

    def next_due_in(self, now: datetime | None = None) -> float | None:
        now = now or utcnow()
        with self.engine.connect() as conn:
            when = conn.execute(
                sa.select(sa.func.min(mails.c.next_attempt_at)).where(mails.c.state == PENDING)
            ).scalar()
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())

    def _update(self, mail_id: int, **values) -> None:
        with self.engine.begin() as conn:
            conn.execute(mails.update().where(mails.c.id == mail_id).values(**values))

    def retry_later(self, mail_id: int, delay: float, note: str) -> None:
        self._update(
            mail_id, attempts=mails.c.attempts + 1, next_attempt_at=utcnow() + timedelta(seconds=delay), note=note[:200]
        )

    def _done(self, mail_id: int, state: str, **values) -> None:
        """A mail that is finished with: its raw bytes go (its sender is kept as a key)."""
        self._update(mail_id, state=state, raw=None, done_at=utcnow(), **values)

    def ignore(self, mail_id: int, reason: str, sender: str | None) -> None:
        self._done(mail_id, IGNORED, note=reason[:200], sender_key=sender_key(sender) if sender else None)

    def answered(
        self, mail_id: int, sender: str, guest: bool, conversation_id: str | None, reply_message_id: str
    ) -> None:
        self._done(
            mail_id,
            ANSWERED,
            sender_key=sender_key(sender),
            guest=guest,
            conversation_id=conversation_id,
            reply_message_id=reply_message_id,
            note=None,
        )

    def conversation_of_thread(self, message_ids: list[str], sender: str) -> str | None:
        """The conversation an earlier reply of ours (named in In-Reply-To/References)
        belongs to, if it was a reply to this same sender."""
        if not message_ids:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(mails.c.conversation_id)
                .where(
                    mails.c.reply_message_id.in_(message_ids),
                    mails.c.sender_key == sender_key(sender),
                    mails.c.conversation_id.is_not(None),
                )
                .order_by(mails.c.id.desc())
                .limit(1)
            ).first()
        return row.conversation_id if row else None

    def guest_answers(self, sender: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.count())
                .select_from(mails)
                .where(mails.c.sender_key == sender_key(sender), mails.c.state == ANSWERED, mails.c.guest.is_(True))
            ).scalar_one()

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(mails.c.state, sa.func.count()).group_by(mails.c.state)).all()
        return {state: n for state, n in rows}
