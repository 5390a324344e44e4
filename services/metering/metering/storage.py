"""Metering storage: counters per subject, the distinct views of each period, guest views
per IP and day, carried-over guests; SQLite or PostgreSQL.

Granting is serialised per subject: every decision runs in a transaction that first locks
the subject's counter row (SELECT ... FOR UPDATE on PostgreSQL; BEGIN IMMEDIATE on SQLite,
see medcode_common.transactions), and the unique (subject, period, resource) key refuses
a double count even if that were ever bypassed. Events go into `metering_outbox` in the
same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from cachetools import LRUCache

from medcode_common.db import fetch_on_driver
from medcode_common.migrations import Schema
from medcode_common.outbox import Inbox, Outbox, inbox_table, outbox_table
from medcode_common.transactions import insert_ignoring_duplicates, lock_rows, serialized_transaction
from medcode_contracts import events
from medcode_contracts.accounts import Plan
from medcode_contracts.metering import ClaimDecision, Meter, QuestionDecision, ViewDecision

from .domain import Outcome, Quotas, current_period_start, decide_views, remaining, subject_key, utc_day

PREFIX = "metering"
SCHEMA = Schema.of("metering")  # metering.migrations, alembic_version_metering

metadata = sa.MetaData()

subjects = sa.Table(
    "metering_subjects",
    metadata,
    sa.Column("key", sa.String(110), primary_key=True),  # "guest:<id>" or "user:<id>"
    sa.Column("period_start", sa.BigInteger, nullable=False),  # epoch seconds
    sa.Column("views_used", sa.Integer, nullable=False),
    sa.Column("questions_used", sa.Integer, nullable=False),
    sa.Column("exhausted_notified", sa.Boolean, nullable=False),  # quota_exhausted sent this period
)

views = sa.Table(
    "metering_views",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subject_key", sa.String(110), nullable=False),
    sa.Column("period_start", sa.BigInteger, nullable=False),
    sa.Column("resource", sa.String(100), nullable=False),
    sa.Column("viewed_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("subject_key", "period_start", "resource", name="uq_metering_views_subject_period_resource"),
)

ip_days = sa.Table(
    "metering_ip_days",
    metadata,
    sa.Column("ip", sa.String(64), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),  # UTC date, ISO
    sa.Column("guest_views", sa.Integer, nullable=False),
    sa.Column("guest_questions", sa.Integer, nullable=False, server_default="0"),
)

# Uses per UTC day: a subject's ("guest:<id>", "user:<id>") or a guest network's
# ("ip:<address>") claim checks. Only today's rows matter; the retention job drops the rest.
daily_uses = sa.Table(
    "metering_daily_uses",
    metadata,
    sa.Column("key", sa.String(110), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),  # UTC date, ISO
    sa.Column("kind", sa.String(20), primary_key=True),  # "claims"
    sa.Column("used", sa.Integer, nullable=False),
)

CLAIMS = "claims"

carry_overs = sa.Table(
    "metering_carry_overs",
    metadata,
    sa.Column("guest_key", sa.String(110), primary_key=True),
    sa.Column("user_key", sa.String(110), primary_key=True),
    sa.Column("done_at", sa.BigInteger, nullable=False),
)

outbox = Outbox(outbox_table(metadata, PREFIX))
inbox = Inbox(inbox_table(metadata, PREFIX))

# What the retention job (MeterStore.purge) deletes by.
sa.Index("ix_metering_subjects_period_start", subjects.c.period_start)
sa.Index("ix_metering_views_period_start", views.c.period_start)
sa.Index("ix_metering_ip_days_day", ip_days.c.day)
sa.Index("ix_metering_inbox_received_at", inbox.table.c.received_at)


# The statements of the hot paths, built once: executed with parameters, their compiled
# forms come from SQLAlchemy's cache instead of being built and keyed again on every call.
_LOCK_SUBJECT = lock_rows(sa.select(subjects).where(subjects.c.key == sa.bindparam("key")))
_READ_SUBJECT = sa.select(subjects).where(subjects.c.key == sa.bindparam("key"))
_SAVE_SUBJECT = subjects.update().where(subjects.c.key == sa.bindparam("subject"))
_DELETE_SUBJECT = subjects.delete().where(subjects.c.key == sa.bindparam("key"))
_SEEN_VIEWS = sa.select(views.c.resource).where(
    views.c.subject_key == sa.bindparam("key"),
    views.c.period_start == sa.bindparam("period_start"),
    views.c.resource.in_(sa.bindparam("resources", expanding=True)),
)
_INSERT_VIEW = views.insert()
_IP_DAY = (ip_days.c.ip == sa.bindparam("ip"), ip_days.c.day == sa.bindparam("day"))
_LOCK_IP_VIEWS = lock_rows(sa.select(ip_days.c.guest_views).where(*_IP_DAY))
_SET_IP_VIEWS = ip_days.update().where(ip_days.c.ip == sa.bindparam("at_ip"), ip_days.c.day == sa.bindparam("on_day"))
# Everything a view decision reads, in one statement (so from one snapshot of the
# database): the subject's counter row (NULLs when it has none), the asked resources it
# viewed in the counter's period (one row each; NULL when none), and its network's guest
# views today (NULL without a row).
_one_row = sa.select(sa.literal_column("1").label("one")).subquery("one_row")


def _views_snapshot(asked: sa.ColumnElement[bool]) -> sa.Select:
    return sa.select(
        subjects.c.period_start,
        subjects.c.views_used,
        subjects.c.exhausted_notified,
        views.c.resource,
        sa.select(ip_days.c.guest_views).where(*_IP_DAY).scalar_subquery().label("ip_used"),
    ).select_from(
        _one_row.outerjoin(subjects, subjects.c.key == sa.bindparam("key")).outerjoin(
            views,
            sa.and_(views.c.subject_key == subjects.c.key, views.c.period_start == subjects.c.period_start, asked),
        )
    )


_VIEWS_SNAPSHOT = _views_snapshot(views.c.resource.in_(sa.bindparam("resources", expanding=True)))
# A page asks about one resource: `=` spares the expanding IN its per-call rewriting.
_VIEW_SNAPSHOT = _views_snapshot(views.c.resource == sa.bindparam("resource"))


class _SnapshotRow(NamedTuple):
    period_start: int | None
    views_used: int | None
    exhausted_notified: bool | None
    resource: str | None
    ip_used: int | None


class _PageSnapshotOnSqlite:
    """_VIEW_SNAPSHOT (the one-page read of a code page's check) compiled once and run
    straight on a pooled DB-API connection: SQLAlchemy's execution cost three quarters of
    this read (about 37 against 9 µs here). One SELECT in the driver's autocommit mode is
    one consistent read that opens no transaction and takes no write lock."""

    def __init__(self, engine: sa.Engine):
        compiled = _VIEW_SNAPSHOT.compile(dialect=engine.dialect)
        self.engine, self.sql, self.names = engine, compiled.string, tuple(compiled.positiontup or ())

    def __call__(self, parameters: dict) -> list[_SnapshotRow]:
        rows = fetch_on_driver(self.engine, self.sql, [parameters[name] for name in self.names])
        return [_SnapshotRow(*row) for row in rows]


def _ts(now: datetime) -> int:
    return int(now.timestamp())


@dataclass
class _Counter:
    key: str
    period_start: int
    views_used: int
    questions_used: int
    exhausted_notified: bool
    created: bool = False


def _lock_subject(conn: sa.Connection, key: str, now: int, quotas: Quotas) -> _Counter:
    """The subject's counter row, locked for this transaction, in its current period
    (a period that ended is replaced by a fresh one here). `counter.created`: the row
    was inserted by this call (the caller removes it again if nothing was used)."""
    created = insert_ignoring_duplicates(
        conn, subjects, key=key, period_start=now, views_used=0, questions_used=0, exhausted_notified=False
    )
    row = conn.execute(_LOCK_SUBJECT, {"key": key}).one()
    counter = _Counter(row.key, row.period_start, row.views_used, row.questions_used, row.exhausted_notified, created)
    start = current_period_start(counter.period_start, now, quotas.period_seconds)
    if start != counter.period_start:
        # Old periods' views are of no further use: drop them with the period.
        conn.execute(views.delete().where(views.c.subject_key == key))
        counter = _Counter(key, start, 0, 0, False)
        _save(conn, counter)
    return counter


def _save(conn: sa.Connection, counter: _Counter) -> None:
    conn.execute(
        _SAVE_SUBJECT,
        {
            "subject": counter.key,
            "period_start": counter.period_start,
            "views_used": counter.views_used,
            "questions_used": counter.questions_used,
            "exhausted_notified": counter.exhausted_notified,
        },
    )


def _read_counter(conn: sa.Connection, key: str, now: int, quotas: Quotas) -> _Counter | None:
    row = conn.execute(_READ_SUBJECT, {"key": key}).first()
    if row is None or current_period_start(row.period_start, now, quotas.period_seconds) != row.period_start:
        return None
    return _Counter(row.key, row.period_start, row.views_used, row.questions_used, row.exhausted_notified)


# Answers kept per process by FinalViews: about 400 bytes each, 20 MB when full.
FINAL_VIEWS_KEPT = 50_000


class FinalViews:
    """View answers that cannot change any more, kept in memory so a page opened again
    costs no database read: a page the subject viewed in its current period (its row is
    committed) is granted until the period ends, and its `remaining` is fixed once the plan
    is unlimited (None) or the quota is used up (0; `views_used` only grows in a period).
    Such an answer grants nothing new, so it can neither skip a record nor exceed a quota.

    Keyed by (subject key, plan, resource): the plan sets the limit, so a plan change (an
    upgrade, a downgrade) asks under another key, and an answer kept under a plan stays
    right under it. An entry ends with the period it was recorded in. Only deleting the
    subject's views inside a period (`forget_user`) would make one wrong: that clears the
    cache and bumps `generation`, and an answer is kept only if no clear happened since
    its request began reading (another worker may clear while this one waits for the
    database). Another replica's forget_user is not seen here: the deleted user's session
    is revoked with it, so its id sends no further pages to be recorded."""

    def __init__(self, maxsize: int = FINAL_VIEWS_KEPT):
        # (subject key, plan, resource) -> (end of the period, limit); the answer is made
        # again from them on each hit, which keeps an entry at half the size of a kept answer.
        self._answers: LRUCache[tuple[str, Plan, str], tuple[int, int | None]] = LRUCache(maxsize=maxsize)
        self.generation = 0

    def get(self, key: str, plan: Plan, resource: str, ts: int) -> ViewDecision | None:
        kept = self._answers.get((key, plan, resource))
        if kept is None or ts >= kept[0]:
            return None
        limit = kept[1]
        return ViewDecision(resource=resource, granted=True, limit=limit, remaining=None if limit is None else 0)

    def keep(
        self, generation: int, key: str, plan: Plan, resources: list[str], limit: int | None, used: int, period_end: int
    ) -> None:
        """Keep the answer to each of `resources`, viewed in the period ending at
        `period_end` with `used` views in all, when it is final and nothing was cleared
        since `generation` was read."""
        if generation != self.generation or (limit is not None and used < limit):
            return
        for resource in resources:
            self._answers[(key, plan, resource)] = (period_end, limit)

    def clear(self) -> None:
        self.generation += 1
        self._answers.clear()


class _Refused(Exception):
    def __init__(self, reason: str):
        self.reason = reason


class MeterStore:
    def __init__(self, engine: sa.Engine, quotas: Quotas, final_views: FinalViews | None = None):
        self.engine = engine
        self.quotas = quotas
        self.final_views = FinalViews() if final_views is None else final_views
        self._page_snapshot = _PageSnapshotOnSqlite(engine) if engine.dialect.name == "sqlite" else None

    # -- code-page views ---------------------------------------------------------------
    def check_views(
        self, subject: str, plan: Plan, resources: list[str], client_ip: str | None, now: datetime
    ) -> list[ViewDecision]:
        """Grants or refuses each resource, in order, atomically for the subject."""
        quotas, ts = self.quotas, _ts(now)
        limit = quotas.views[plan]
        key = subject_key(subject, plan)
        ip_cap = quotas.guest_ip_daily_cap if plan is Plan.GUEST and client_ip else None
        final_views, generation = self.final_views, self.final_views.generation
        kept: list[ViewDecision] = []
        for resource in resources:
            answer = final_views.get(key, plan, resource, ts)
            if answer is None:
                break
            kept.append(answer)
        else:
            return kept
        day = utc_day(ts)
        unchanged = self._decide_from_snapshot(key, plan, resources, client_ip, day, ts, limit, ip_cap, generation)
        if unchanged is not None:
            return unchanged
        with serialized_transaction(self.engine) as conn:
            counter = _lock_subject(conn, key, ts, quotas)
            seen = set(
                conn.execute(
                    _SEEN_VIEWS,
                    {"key": key, "period_start": counter.period_start, "resources": sorted(set(resources))},
                ).scalars()
            )
            # The network's row is read (and locked) only when a guest may get a new view.
            ip_used = None
            if ip_cap is not None and client_ip and any(r not in seen for r in resources):
                ip_used = self._lock_ip_day(conn, client_ip, day)
            fates = decide_views(
                resources, seen=seen, used=counter.views_used, limit=limit, ip_used=ip_used, ip_cap=ip_cap
            )
            for resource, outcome, used in fates:
                if outcome is Outcome.GRANTED:
                    conn.execute(
                        _INSERT_VIEW,
                        {
                            "subject_key": key,
                            "period_start": counter.period_start,
                            "resource": resource,
                            "viewed_at": ts,
                        },
                    )
                    outbox.add(conn, events.ViewRecorded(subject=subject, resource=resource, used=used, limit=limit))
            granted = sum(outcome is Outcome.GRANTED for _r, outcome, _u in fates)
            counter.views_used += granted
            decisions = self._view_decisions(fates, plan, limit)
            if counter.created and counter.views_used == 0:
                # A refused newcomer (a cookie-less crawler past its network's cap, say)
                # leaves no row behind: what is not granted is not remembered.
                conn.execute(_DELETE_SUBJECT, {"key": key})
                return decisions
            if not counter.exhausted_notified and any(outcome is Outcome.QUOTA for _r, outcome, _u in fates):
                counter.exhausted_notified = True
                outbox.add(conn, events.QuotaExhausted(subject=subject, plan=plan.value, limit=limit or 0))
            _save(conn, counter)
            if ip_used is not None:
                conn.execute(_SET_IP_VIEWS, {"at_ip": client_ip, "on_day": day, "guest_views": ip_used + granted})
        # Committed: the pages seen or granted here are recorded in the counter's period.
        final_views.keep(
            generation,
            key,
            plan,
            [resource for resource, outcome, _used in fates if outcome in (Outcome.SEEN, Outcome.GRANTED)],
            limit,
            counter.views_used,
            counter.period_start + quotas.period_seconds,
        )
        return decisions

    def _decide_from_snapshot(
        self,
        key: str,
        plan: Plan,
        resources: list[str],
        client_ip: str | None,
        day: str,
        ts: int,
        limit: int | None,
        ip_cap: int | None,
        generation: int,
    ) -> list[ViewDecision] | None:
        """The decisions, from one plain read without the subject's write lock, when they
        change nothing: pages already viewed this period (the common case), and refusals
        that leave no trace (a guest whose network is past its cap, a subject whose quota
        is used up and already told so). None when the locked path must decide (something
        would be granted or recorded, or the subject's period is over)."""
        asked = set(resources)
        rows: Sequence[_SnapshotRow | sa.Row]
        if len(asked) == 1 and self._page_snapshot is not None:
            rows = self._page_snapshot({"key": key, "ip": client_ip, "day": day, "resource": resources[0]})
        else:
            statement, parameters = (
                (_VIEW_SNAPSHOT, {"resource": resources[0]})
                if len(asked) == 1
                else (_VIEWS_SNAPSHOT, {"resources": sorted(asked)})
            )
            with self.engine.connect() as conn:
                rows = conn.execute(statement, {"key": key, "ip": client_ip, "day": day, **parameters}).all()
        first = rows[0]
        if first.period_start is None:  # no counter row yet
            used, notified = 0, False
        elif current_period_start(first.period_start, ts, self.quotas.period_seconds) != first.period_start:
            return None  # the locked path starts the new period
        else:
            used, notified = first.views_used or 0, bool(first.exhausted_notified)
        seen = {row.resource for row in rows if row.resource is not None}
        ip_used = None
        if ip_cap is not None and any(r not in seen for r in resources):
            if first.ip_used is None:
                return None  # the locked path makes the network's row
            ip_used = first.ip_used
        fates = decide_views(resources, seen=seen, used=used, limit=limit, ip_used=ip_used, ip_cap=ip_cap)
        for _resource, outcome, _used in fates:
            if outcome is Outcome.GRANTED or (
                outcome is Outcome.QUOTA and first.period_start is not None and not notified
            ):
                return None
        if first.period_start is not None:
            self.final_views.keep(
                generation,
                key,
                plan,
                [resource for resource, outcome, _used in fates if outcome is Outcome.SEEN],
                limit,
                used,
                first.period_start + self.quotas.period_seconds,
            )
        return self._view_decisions(fates, plan, limit)

    def _view_decisions(
        self, fates: list[tuple[str, Outcome, int]], plan: Plan, limit: int | None
    ) -> list[ViewDecision]:
        decisions = []
        for resource, outcome, used in fates:
            if outcome in (Outcome.SEEN, Outcome.GRANTED):
                decisions.append(
                    ViewDecision(resource=resource, granted=True, limit=limit, remaining=remaining(limit, used))
                )
                continue
            reason = self.quotas.views_refusal(plan) if outcome is Outcome.QUOTA else self.quotas.ip_cap_refusal()
            decisions.append(ViewDecision(resource=resource, granted=False, limit=limit, remaining=0, reason=reason))
        return decisions

    @staticmethod
    def _lock_ip_day(conn: sa.Connection, ip: str, day: str) -> int:
        insert_ignoring_duplicates(conn, ip_days, ip=ip, day=day, guest_views=0)
        return conn.execute(_LOCK_IP_VIEWS, {"ip": ip, "day": day}).scalar_one()

    def get_meter(self, subject: str, plan: Plan, now: datetime) -> Meter:
        limit = self.quotas.views[plan]
        with self.engine.connect() as conn:
            counter = _read_counter(conn, subject_key(subject, plan), _ts(now), self.quotas)
        used = counter.views_used if counter else 0
        return Meter(plan=plan, limit=limit, used=used, remaining=remaining(limit, used))

    # -- assistant questions -----------------------------------------------------------
    def check_question(self, subject: str, plan: Plan, now: datetime, client_ip: str | None = None) -> QuestionDecision:
        """Counts one question when the plan allows it (and, for a guest, its network's
        daily cap)."""
        limit = self.quotas.questions[plan]
        ts = _ts(now)
        ip_cap = self.quotas.guest_ip_daily_questions if plan is Plan.GUEST and client_ip else None
        with serialized_transaction(self.engine) as conn:
            counter = _lock_subject(conn, subject_key(subject, plan), ts, self.quotas)
            if limit is not None and counter.questions_used >= limit:
                if counter.created:  # a refused newcomer leaves no row behind
                    conn.execute(subjects.delete().where(subjects.c.key == counter.key))
                return QuestionDecision(
                    granted=False, remaining=0, limit=limit, reason=self.quotas.questions_refusal(plan)
                )
            if ip_cap is not None and client_ip:
                self._lock_ip_day(conn, client_ip, utc_day(ts))
                asked = conn.execute(
                    sa.select(ip_days.c.guest_questions).where(ip_days.c.ip == client_ip, ip_days.c.day == utc_day(ts))
                ).scalar_one()
                if asked >= ip_cap:
                    if counter.created:
                        conn.execute(subjects.delete().where(subjects.c.key == counter.key))
                    return QuestionDecision(
                        granted=False, remaining=0, limit=limit, reason=self.quotas.ip_questions_refusal()
                    )
                conn.execute(
                    ip_days.update()
                    .where(ip_days.c.ip == client_ip, ip_days.c.day == utc_day(ts))
                    .values(guest_questions=asked + 1)
                )
            counter.questions_used += 1
            _save(conn, counter)
        return QuestionDecision(granted=True, limit=limit, remaining=remaining(limit, counter.questions_used))

    # -- claim checks ------------------------------------------------------------------
    def check_claim(self, subject: str, plan: Plan, client_ip: str | None, now: datetime) -> ClaimDecision:
        """Counts one claim check when the plan's daily quota (and, for a guest, its
        network's) allows it. A refusal writes nothing. The network's row is locked before
        the subject's, always in that order."""
        quotas, day = self.quotas, utc_day(_ts(now))
        limit = (quotas.claims or {}).get(plan)
        keys: list[tuple[str, int | None, str]] = (
            [(f"ip:{client_ip}", quotas.guest_ip_daily_claims, quotas.ip_claims_refusal())]
            if plan is Plan.GUEST and client_ip and quotas.guest_ip_daily_claims is not None
            else []
        )
        keys.append((subject_key(subject, plan), limit, quotas.claims_refusal(plan)))
        try:
            with serialized_transaction(self.engine) as conn:
                # A plain locked read first: a refusal must not create rows.
                for key, cap, reason in keys:
                    if cap is not None and self._daily_used(conn, key, day) >= cap:
                        raise _Refused(reason)
                # Then make the rows and decide again under their locks (a concurrent first
                # use may have come in between on PostgreSQL); a refusal now rolls back.
                for key, cap, reason in keys:
                    insert_ignoring_duplicates(conn, daily_uses, key=key, day=day, kind=CLAIMS, used=0)
                    if cap is not None and self._daily_used(conn, key, day) >= cap:
                        raise _Refused(reason)
                for key, _cap, _reason in keys:
                    conn.execute(
                        daily_uses.update()
                        .where(daily_uses.c.key == key, daily_uses.c.day == day, daily_uses.c.kind == CLAIMS)
                        .values(used=daily_uses.c.used + 1)
                    )
                used = self._daily_used(conn, keys[-1][0], day)
        except _Refused as refused:
            return ClaimDecision(granted=False, remaining=0, limit=limit, reason=refused.reason)
        return ClaimDecision(granted=True, limit=limit, remaining=remaining(limit, used))

    @staticmethod
    def _daily_used(conn: sa.Connection, key: str, day: str) -> int:
        """Today's claim checks of `key`, its row locked; 0 (and nothing made) without a row."""
        return (
            conn.execute(
                lock_rows(
                    sa.select(daily_uses.c.used).where(
                        daily_uses.c.key == key, daily_uses.c.day == day, daily_uses.c.kind == CLAIMS
                    )
                )
            ).scalar()
            or 0
        )

    # -- retention -----------------------------------------------------------------------
    def purge(self, now: datetime) -> dict[str, int]:
        """Deletes what no decision reads any more: counters and views of periods that
        ended (the next use starts a fresh period anyway), per-IP and daily counts of
        past days, carry-overs of ended periods, and, past the retention time, published
        outbox rows and handled event ids (redeliveries come within minutes, not days).
        Returns the rows deleted per table."""
        ts, quotas = _ts(now), self.quotas
        period_over = ts - quotas.period_seconds
        kept_since = now - timedelta(seconds=quotas.retention_seconds)
        today = utc_day(ts)
        gone = {}
        with self.engine.begin() as conn:
            gone["views"] = conn.execute(views.delete().where(views.c.period_start <= period_over)).rowcount
            gone["subjects"] = conn.execute(subjects.delete().where(subjects.c.period_start <= period_over)).rowcount
            gone["ip_days"] = conn.execute(ip_days.delete().where(ip_days.c.day < today)).rowcount
            gone["daily_uses"] = conn.execute(daily_uses.delete().where(daily_uses.c.day < today)).rowcount
            gone["carry_overs"] = conn.execute(
                carry_overs.delete().where(carry_overs.c.done_at <= period_over)
            ).rowcount
            out = outbox.table
            gone["outbox"] = conn.execute(
                out.delete().where(out.c.published_at.is_not(None), out.c.published_at < kept_since)
            ).rowcount
            gone["inbox"] = conn.execute(inbox.table.delete().where(inbox.table.c.received_at < kept_since)).rowcount
        return gone

    # -- events from accounts ----------------------------------------------------------
    def carry_over(self, guest_id: str, user_id: str, now: datetime, event_id: str | None = None) -> bool:
        """The guest's views and questions of its current period count for the new user.
        Idempotent: once per (guest, user), and once per event_id when given. Returns
        False when there was nothing (more) to do."""
        ts = _ts(now)
        guest_key, user_key = subject_key(guest_id, Plan.GUEST), subject_key(user_id, Plan.FREE)
        with serialized_transaction(self.engine) as conn:
            if event_id is not None and not inbox.first_time(conn, event_id):
                return False
            # Lock order everywhere: the user's row before anything else of the pair.
            counter = _lock_subject(conn, user_key, ts, self.quotas)
            if not insert_ignoring_duplicates(conn, carry_overs, guest_key=guest_key, user_key=user_key, done_at=ts):
                return False
            guest = _read_counter(conn, guest_key, ts, self.quotas)
            if guest is None:
                return True
            for resource in conn.execute(
                sa.select(views.c.resource).where(
                    views.c.subject_key == guest_key, views.c.period_start == guest.period_start
                )
            ).scalars():
                insert_ignoring_duplicates(
                    conn,
                    views,
                    subject_key=user_key,
                    period_start=counter.period_start,
                    resource=resource,
                    viewed_at=ts,
                )
            counter.views_used = conn.execute(
                sa.select(sa.func.count())
                .select_from(views)
                .where(views.c.subject_key == user_key, views.c.period_start == counter.period_start)
            ).scalar_one()
            counter.questions_used += guest.questions_used
            _save(conn, counter)
        return True

    def forget_user(self, user_id: str, event_id: str | None = None) -> bool:
        """Deletes everything metered about the user (`user_deleted`)."""
        key = subject_key(user_id, Plan.FREE)
        with serialized_transaction(self.engine) as conn:
            if event_id is not None and not inbox.first_time(conn, event_id):
                return False
            conn.execute(views.delete().where(views.c.subject_key == key))
            conn.execute(carry_overs.delete().where(carry_overs.c.user_key == key))
            conn.execute(subjects.delete().where(subjects.c.key == key))
            # Its pages are views no more (see FinalViews): cleared before the commit, so an
            # answer read before it is not kept, and after, for one read in between.
            self.final_views.clear()
        self.final_views.clear()
        return True

    def mark_seen(self, event_id: str) -> bool:
        """Claims an event id with nothing else to do; False when it was seen before."""
        with serialized_transaction(self.engine) as conn:
            return inbox.first_time(conn, event_id)

    def pending_events(self) -> int:
        with self.engine.connect() as conn:
            return outbox.pending(conn)
