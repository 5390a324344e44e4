"""Accounts storage: SQLAlchemy Core tables, one store class, SQLite or PostgreSQL.

Every change that has an event writes it into `accounts_outbox` in the same transaction
(medcode_common.outbox), so a committed change always gets its event published.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import overload

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from medcode_common.migrations import Schema
from medcode_common.outbox import Outbox, outbox_table
from medcode_common.transactions import insert_ignoring_duplicates, lock_rows, serialized_transaction
from medcode_contracts import events
from medcode_contracts.accounts import Plan, Role

from .domain import AccountRecord, LoginThrottle, TokenClaims

PREFIX = "accounts"
MAX_COUNTER_WINDOW = 86400  # the longest window of a rate counter (new accounts per day)
SCHEMA = Schema.of("accounts")  # accounts.migrations, alembic_version_accounts

metadata = sa.MetaData()

accounts = sa.Table(
    "accounts_accounts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("plan", sa.String(10), nullable=False),
    sa.Column("role", sa.String(10), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# One row per issued token (jti); logout sets revoked_at; deleting the account removes them.
sessions = sa.Table(
    "accounts_sessions",
    metadata,
    sa.Column("jti", sa.String(36), primary_key=True),
    sa.Column(
        "account_id",
        sa.String(36),
        sa.ForeignKey("accounts_accounts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

# Failed log-ins per (email, client IP), keyed by a hash so no address is stored here.
login_attempts = sa.Table(
    "accounts_login_attempts",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("email_key", sa.String(64), nullable=False, index=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Fixed-window counters per purpose and client address or account (log-in failures,
# registrations), keyed by a hash (RateCounter.key) so no address or email is stored.
rate_counters = sa.Table(
    "accounts_rate_counters",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("window_start", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("count", sa.Integer, nullable=False),
)

outbox = Outbox(outbox_table(metadata, PREFIX))


@overload
def _utc(value: datetime) -> datetime: ...
@overload
def _utc(value: None) -> None: ...
def _utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything here is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _record(row) -> AccountRecord:
    return AccountRecord(
        id=row.id,
        email=row.email,
        name=row.name,
        password_hash=row.password_hash,
        plan=Plan(row.plan),
        role=Role(row.role),
        created_at=_utc(row.created_at),
    )


class AccountStore:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    # -- accounts --------------------------------------------------------------------
    def create_account(
        self, account: AccountRecord, session: TokenClaims, now: datetime, event: events.UserRegistered
    ) -> bool:
        """Account, first session and `user_registered` in one transaction; False when
        the email is taken."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    accounts.insert().values(
                        id=account.id,
                        email=account.email,
                        name=account.name,
                        password_hash=account.password_hash,
                        plan=account.plan.value,
                        role=account.role.value,
                        created_at=account.created_at,
                        updated_at=now,
                    )
                )
                self._insert_session(conn, account.id, session, now)
                outbox.add(conn, event)
        except IntegrityError:
            with self.engine.connect() as conn:
                taken = conn.execute(sa.select(accounts.c.id).where(accounts.c.email == account.email)).first()
            if taken:
                return False
            raise
        return True

    def get(self, account_id: str) -> AccountRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(accounts).where(accounts.c.id == account_id)).first()
        return _record(row) if row else None

    def find_by_email(self, email: str) -> AccountRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(accounts).where(accounts.c.email == email)).first()
        return _record(row) if row else None

    def set_password_hash(self, account_id: str, password_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(accounts.update().where(accounts.c.id == account_id).values(password_hash=password_hash))

    def set_plan(self, account_id: str, plan: Plan, now: datetime) -> AccountRecord | None:
        """Changes the plan and records `plan_changed` (only when it really changes)."""
        with serialized_transaction(self.engine) as conn:
            row = conn.execute(lock_rows(sa.select(accounts).where(accounts.c.id == account_id))).first()
            if row is None:
                return None
            if row.plan != plan.value:
                conn.execute(
                    accounts.update().where(accounts.c.id == account_id).values(plan=plan.value, updated_at=now)
                )
                outbox.add(conn, events.PlanChanged(user_id=account_id, old_plan=row.plan, new_plan=plan.value))
            row = conn.execute(sa.select(accounts).where(accounts.c.id == account_id)).one()
        return _record(row)

    def set_role(self, email: str, role: Role) -> AccountRecord | None:
        """Changes the role and records `role_changed` (only when it really changes); the
        accounts service relays it, from whichever process wrote it (the CLI)."""
        with serialized_transaction(self.engine) as conn:
            row = conn.execute(lock_rows(sa.select(accounts).where(accounts.c.email == email))).first()
            if row is None:
                return None
            if row.role != role.value:
                conn.execute(accounts.update().where(accounts.c.id == row.id).values(role=role.value))
                outbox.add(conn, events.RoleChanged(user_id=row.id, old_role=row.role, new_role=role.value))
            row = conn.execute(sa.select(accounts).where(accounts.c.id == row.id)).one()
        return _record(row)

    def delete_account(self, account_id: str) -> bool:
        """Removes the account, its sessions and its failed-login counters, and records
        `user_deleted`; False when there is no such account."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(accounts.c.email).where(accounts.c.id == account_id)).first()
            if row is None:
                return False
            conn.execute(sessions.delete().where(sessions.c.account_id == account_id))
            conn.execute(
                login_attempts.delete().where(login_attempts.c.email_key == LoginThrottle.email_key(row.email))
            )
            conn.execute(accounts.delete().where(accounts.c.id == account_id))
            outbox.add(conn, events.UserDeleted(user_id=account_id))
        return True

    # -- sessions --------------------------------------------------------------------
    @staticmethod
    def _insert_session(conn: sa.Connection, account_id: str, claims: TokenClaims, now: datetime) -> None:
        conn.execute(
            sessions.insert().values(jti=claims.jti, account_id=account_id, issued_at=now, expires_at=claims.expires_at)
        )

    def create_session(self, account_id: str, claims: TokenClaims, now: datetime) -> bool:
        try:
            with self.engine.begin() as conn:
                if conn.execute(sa.select(accounts.c.id).where(accounts.c.id == account_id)).first() is None:
                    return False
                self._insert_session(conn, account_id, claims, now)
        except IntegrityError:  # the account went away meanwhile (foreign key)
            return False
        return True

    def session_account(self, jti: str, account_id: str) -> AccountRecord | None:
        """The account of a live session: one primary-key join."""
        query = (
            sa.select(accounts)
            .join(sessions, sessions.c.account_id == accounts.c.id)
            .where(sessions.c.jti == jti, sessions.c.revoked_at.is_(None), accounts.c.id == account_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _record(row) if row else None

    def revoke_session(self, jti: str, now: datetime) -> bool:
        """Revokes a live session and records `session_revoked` (caches of the session's
        account drop it); False when there was none to revoke."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(sessions.c.account_id).where(sessions.c.jti == jti, sessions.c.revoked_at.is_(None))
            ).first()
            if row is None:
                return False
            conn.execute(
                sessions.update().where(sessions.c.jti == jti, sessions.c.revoked_at.is_(None)).values(revoked_at=now)
            )
            outbox.add(conn, events.SessionRevoked(user_id=row.account_id, session_id=jti, reason="logout"))
        return True

    def purge_expired(self, now: datetime, throttle: LoginThrottle) -> int:
        """Housekeeping: sessions past expiry and failed-login counters past the window."""
        with self.engine.begin() as conn:
            gone = conn.execute(sessions.delete().where(sessions.c.expires_at < now)).rowcount
            conn.execute(
                login_attempts.delete().where(
                    login_attempts.c.updated_at < now - timedelta(seconds=throttle.window_seconds)
                )
            )
            conn.execute(
                rate_counters.delete().where(rate_counters.c.window_start < now - timedelta(seconds=MAX_COUNTER_WINDOW))
            )
        return gone

    # -- counters per address or account ---------------------------------------------
    def take(self, key: str, limit: int, window_seconds: int, now: datetime) -> int:
        """Counts one use of `key` in its current window (which starts at the first use
        after the last one ended) unless `limit` uses are counted already: then returns
        the seconds until the window ends and counts nothing. 0 when counted."""
        with serialized_transaction(self.engine) as conn:
            insert_ignoring_duplicates(conn, rate_counters, key=key, window_start=now, count=0)
            row = conn.execute(lock_rows(sa.select(rate_counters).where(rate_counters.c.key == key))).one()
            start, count = _utc(row.window_start), row._mapping["count"]  # typed, row.count is tuple.count
            if now >= start + timedelta(seconds=window_seconds):
                start, count = now, 0
            if count >= limit:
                return max(1, int((start + timedelta(seconds=window_seconds) - now).total_seconds() + 0.999))
            conn.execute(
                rate_counters.update().where(rate_counters.c.key == key).values(window_start=start, count=count + 1)
            )
        return 0

    def give_back(self, key: str) -> None:
        """Undoes one `take` (a use that turned out not to count: a successful log-in)."""
        with self.engine.begin() as conn:
            conn.execute(
                rate_counters.update()
                .where(rate_counters.c.key == key, rate_counters.c.count > 0)
                .values(count=rate_counters.c.count - 1)
            )

    # -- failed log-ins --------------------------------------------------------------
    def begin_login_attempt(self, key: str, email_key: str, now: datetime, throttle: LoginThrottle) -> int:
        """Counts an attempt as failed until it succeeds (`clear_login_attempts`), and
        locks the pair for the attempt's delay before the password is even checked, so
        parallel guesses cannot slip past the counter. Returns 0 when the attempt may go
        on, or the seconds to wait (nothing is counted then)."""
        with serialized_transaction(self.engine) as conn:
            # Make sure the row exists, so that FOR UPDATE has something to lock.
            insert_ignoring_duplicates(
                conn, login_attempts, key=key, email_key=email_key, failures=0, locked_until=None, updated_at=now
            )
            row = conn.execute(lock_rows(sa.select(login_attempts).where(login_attempts.c.key == key))).one()
            locked_until = _utc(row.locked_until)
            if locked_until is not None and locked_until > now:
                return max(1, int((locked_until - now).total_seconds() + 0.999))
            recent = now - _utc(row.updated_at) <= timedelta(seconds=throttle.window_seconds)
            attempt = (row.failures if recent else 0) + 1
            lock = throttle.lock_seconds(attempt)
            conn.execute(
                login_attempts.update()
                .where(login_attempts.c.key == key)
                .values(failures=attempt, updated_at=now, locked_until=now + timedelta(seconds=lock) if lock else None)
            )
        return 0

    def clear_login_attempts(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(login_attempts.delete().where(login_attempts.c.key == key))

    # -- events ----------------------------------------------------------------------
    def pending_events(self) -> int:
        with self.engine.connect() as conn:
            return outbox.pending(conn)
