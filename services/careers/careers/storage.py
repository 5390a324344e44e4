"""Careers storage: jobs, applications, saved searches, alert mails waiting for the relay,
career profiles, and the event outbox and inbox; SQLite or PostgreSQL.

The database is the truth; the search index (careers.search) is rebuilt from it when it
disagrees. Each change and its event are written in one transaction (the outbox). Alert
mails are an outbox of their own (`careers_alerts`): one row per saved search and job
(a unique key, so a redelivered `job_posted` cannot alert twice), sent by a timer and
kept until the relay took them.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from medcode_common.fields import columns_from, fields_from
from medcode_common.migrations import Schema
from medcode_common.outbox import Inbox, Outbox, inbox_table, outbox_table
from medcode_common.transactions import insert_ignoring_duplicates, serialized_transaction
from medcode_contracts import careers as contract
from medcode_contracts import events
from medcode_contracts.errors import Conflict

PREFIX = "careers"
SCHEMA = Schema.of("careers")  # careers.migrations, alembic_version_careers
TZ = sa.DateTime(timezone=True)

metadata = sa.MetaData()

jobs = sa.Table(
    "careers_jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("employer_id", sa.String(100), nullable=False, index=True),
    sa.Column("title", sa.String(120), nullable=False),
    sa.Column("company", sa.String(120), nullable=False),
    sa.Column("location", sa.String(120), nullable=False),
    sa.Column("remote", sa.Boolean, nullable=False),
    sa.Column("employment_type", sa.String(40), nullable=False),
    sa.Column("salary_min", sa.Integer, nullable=True),
    sa.Column("salary_max", sa.Integer, nullable=True),
    sa.Column("certifications", sa.Text, nullable=False),  # JSON list
    sa.Column("specialty", sa.String(80), nullable=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("posted_at", TZ, nullable=False),
    sa.Column("expires_on", sa.Date, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("sample", sa.Boolean, nullable=False),
    sa.Column("closed_at", TZ, nullable=True),
)

applications = sa.Table(
    "careers_applications",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("job_id", sa.String(36), nullable=False, index=True),
    sa.Column("applicant_id", sa.String(100), nullable=False, index=True),
    sa.Column("applicant_name", sa.String(200), nullable=False),
    sa.Column("applicant_email", sa.String(320), nullable=False),
    sa.Column("cover_letter", sa.Text, nullable=False),
    sa.Column("resume_text", sa.Text, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("submitted_at", TZ, nullable=False),
    sa.UniqueConstraint("job_id", "applicant_id", name="uq_careers_applications_job_applicant"),
)

saved_searches = sa.Table(
    "careers_saved_searches",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(100), nullable=False, index=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("filter", sa.Text, nullable=False),  # JSON of JobFilter
    sa.Column("alerts", sa.Boolean, nullable=False),
    # The secret of the unsubscribe link in alert mails (it can only turn these alerts off).
    sa.Column("unsubscribe_token", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", TZ, nullable=False),
)

alerts = sa.Table(
    "careers_alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("saved_search_id", sa.String(36), nullable=False),
    sa.Column("job_id", sa.String(36), nullable=False),
    sa.Column("user_id", sa.String(100), nullable=False, index=True),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("unsubscribe_url", sa.String(600), nullable=False),
    sa.Column("created_at", TZ, nullable=False),
    sa.Column("next_attempt_at", TZ, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("sent_at", TZ, nullable=True, index=True),
    sa.UniqueConstraint("saved_search_id", "job_id", name="uq_careers_alerts_search_job"),
)

profiles = sa.Table(
    "careers_profiles",
    metadata,
    sa.Column("user_id", sa.String(100), primary_key=True),
    sa.Column("certifications", sa.Text, nullable=False),  # JSON list
    sa.Column("specialty", sa.String(80), nullable=True),
    sa.Column("updated_at", TZ, nullable=False),
)

outbox = Outbox(outbox_table(metadata, PREFIX))
inbox = Inbox(inbox_table(metadata, PREFIX))


def _iso(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite hands back naive datetimes: they were stored as UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _job(row) -> contract.Job:
    # Built without validation: the row was validated on the way in.
    return contract.Job.model_construct(
        **fields_from(contract.Job, row, certifications=json.loads(row.certifications), posted_at=_iso(row.posted_at))
    )


def _application(row) -> contract.Application:
    return contract.Application(**fields_from(contract.Application, row, submitted_at=_iso(row.submitted_at)))


def _saved_search(row) -> contract.SavedSearch:
    return contract.SavedSearch(
        **fields_from(
            contract.SavedSearch,
            row,
            filter=contract.JobFilter.model_validate_json(row.filter),
            created_at=_iso(row.created_at),
        )
    )


@dataclass(frozen=True)
class AlertSearch:
    id: str
    user_id: str
    email: str
    filter: contract.JobFilter
    unsubscribe_token: str


@dataclass(frozen=True)
class AlertMail:
    id: int
    recipient: str
    subject: str
    body: str
    unsubscribe_url: str
    attempts: int


@dataclass(frozen=True)
class NewAlert:
    saved_search_id: str
    user_id: str
    recipient: str
    subject: str
    body: str
    unsubscribe_url: str


class CareerStore:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    # -- jobs --------------------------------------------------------------------------
    def insert_job(
        self, employer_id: str, job: contract.JobInput, expires_on: date, now: datetime, sample: bool = False
    ) -> contract.Job:
        job_id = str(uuid.uuid4())
        values = columns_from(
            jobs,
            job,
            id=job_id,
            employer_id=employer_id,
            certifications=json.dumps(job.certifications),
            posted_at=now,
            expires_on=expires_on,
            status=contract.JOB_PUBLISHED,
            sample=sample,
            closed_at=None,
        )
        with serialized_transaction(self.engine) as conn:
            conn.execute(jobs.insert().values(**values))
            outbox.add(
                conn,
                events.JobPosted(
                    job_id=job_id,
                    employer_id=employer_id,
                    title=job.title,
                    location=job.location,
                    remote=job.remote,
                    certifications=list(job.certifications),
                ),
            )
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).one()
        return _job(row)

    def get_jobs(self, ids: list[str]) -> dict[str, contract.Job]:
        if not ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(jobs).where(jobs.c.id.in_(sorted(set(ids))))).all()
        return {row.id: _job(row) for row in rows}

    def open_jobs(self, today: date) -> list[contract.Job]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(jobs).where(jobs.c.status == contract.JOB_PUBLISHED, jobs.c.expires_on >= today)
            ).all()
        return [_job(row) for row in rows]

    def count_open_jobs(self, today: date, sample_only: bool = False) -> int:
        where = [jobs.c.status == contract.JOB_PUBLISHED, jobs.c.expires_on >= today]
        if sample_only:
            where.append(jobs.c.sample.is_(True))
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(jobs).where(*where)).scalar_one()

    def close_job(self, job_id: str, now: datetime) -> contract.Job | None:
        """Published -> closed; the job as it is afterwards (None when there is no such job)."""
        with serialized_transaction(self.engine) as conn:
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status == contract.JOB_PUBLISHED)
                .values(status=contract.JOB_CLOSED, closed_at=now)
            )
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
        return _job(row) if row else None

    def expire_due(self, today: date) -> list[str]:
        """Published jobs whose last listed day is before `today` become expired, each with
        its `job_expired` event; returns their ids."""
        with self.engine.connect() as conn:  # the usual answer, "none", takes no write lock
            if (
                conn.execute(
                    sa.select(jobs.c.id)
                    .where(jobs.c.status == contract.JOB_PUBLISHED, jobs.c.expires_on < today)
                    .limit(1)
                ).first()
                is None
            ):
                return []
        with serialized_transaction(self.engine) as conn:
            due = list(
                conn.execute(
                    sa.select(jobs.c.id).where(jobs.c.status == contract.JOB_PUBLISHED, jobs.c.expires_on < today)
                ).scalars()
            )
            expired = []
            for job_id in due:
                # Conditional, so a replica running the same timer cannot expire it twice.
                if (
                    conn.execute(
                        jobs.update()
                        .where(jobs.c.id == job_id, jobs.c.status == contract.JOB_PUBLISHED)
                        .values(status=contract.JOB_EXPIRED)
                    ).rowcount
                    == 1
                ):
                    outbox.add(conn, events.JobExpired(job_id=job_id))
                    expired.append(job_id)
        return expired

    # -- applications ------------------------------------------------------------------
    def insert_application(self, request: contract.ApplyRequest, now: datetime) -> contract.Application:
        application_id = str(uuid.uuid4())
        with serialized_transaction(self.engine) as conn:
            values = columns_from(applications, request, id=application_id, status="submitted", submitted_at=now)
            added = insert_ignoring_duplicates(conn, applications, **values)
            if not added:
                raise Conflict("You have already applied to this job: an application can be sent once.")
            outbox.add(
                conn,
                events.ApplicationSubmitted(
                    application_id=application_id, job_id=request.job_id, applicant_id=request.applicant_id
                ),
            )
            row = conn.execute(sa.select(applications).where(applications.c.id == application_id)).one()
        return _application(row)

    def applications_for_jobs(self, job_ids: list[str]) -> dict[str, list[contract.Application]]:
        out: dict[str, list[contract.Application]] = {job_id: [] for job_id in job_ids}
        if not job_ids:
            return out
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(applications)
                .where(applications.c.job_id.in_(sorted(set(job_ids))))
                .order_by(applications.c.submitted_at, applications.c.id)
            ).all()
        for row in rows:
            out[row.job_id].append(_application(row))
        return out

    def applications_of(self, applicant_id: str) -> list[contract.Application]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(applications)
                .where(applications.c.applicant_id == applicant_id)
                .order_by(applications.c.submitted_at.desc())
            ).all()
        return [_application(row) for row in rows]

    # -- saved searches ----------------------------------------------------------------
    def insert_saved_search(
        self, user_id: str, email: str, flt: contract.JobFilter, alerts_on: bool, unsubscribe_token: str, now: datetime
    ) -> contract.SavedSearch:
        search_id = str(uuid.uuid4())
        with serialized_transaction(self.engine) as conn:
            conn.execute(
                saved_searches.insert().values(
                    id=search_id,
                    user_id=user_id,
                    email=email,
                    filter=flt.model_dump_json(exclude_none=True),
                    alerts=alerts_on,
                    unsubscribe_token=unsubscribe_token,
                    created_at=now,
                )
            )
            row = conn.execute(sa.select(saved_searches).where(saved_searches.c.id == search_id)).one()
        return _saved_search(row)

    def saved_searches_of(self, user_id: str) -> list[contract.SavedSearch]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(saved_searches)
                .where(saved_searches.c.user_id == user_id)
                .order_by(saved_searches.c.created_at)
            ).all()
        return [_saved_search(row) for row in rows]

    def set_alerts(
        self, search_id: str, alerts_on: bool, *, user_id: str | None = None, unsubscribe_token: str | None = None
    ) -> contract.SavedSearch | None:
        """Alerts on or off for the search the owner (user_id) or the link (token) names."""
        where = (
            saved_searches.c.id == search_id
            if user_id is not None
            else saved_searches.c.unsubscribe_token == unsubscribe_token
        )
        if user_id is not None:
            where = sa.and_(where, saved_searches.c.user_id == user_id)
        with serialized_transaction(self.engine) as conn:
            row = conn.execute(sa.select(saved_searches).where(where)).first()
            if row is None:
                return None
            conn.execute(saved_searches.update().where(saved_searches.c.id == row.id).values(alerts=alerts_on))
            if not alerts_on:  # what is not sent yet is not wanted any more
                conn.execute(alerts.delete().where(alerts.c.saved_search_id == row.id, alerts.c.sent_at.is_(None)))
            row = conn.execute(sa.select(saved_searches).where(saved_searches.c.id == row.id)).one()
        return _saved_search(row)

    def alerting_searches(self) -> list[AlertSearch]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(saved_searches).where(saved_searches.c.alerts.is_(True))).all()
        return [
            AlertSearch(**fields_from(AlertSearch, row, filter=contract.JobFilter.model_validate_json(row.filter)))
            for row in rows
        ]

    # -- alert mails -------------------------------------------------------------------
    def record_alerts(self, event_id: str, job_id: str, new: list[NewAlert], now: datetime) -> int:
        """Queue the alert mails of one `job_posted` event: once per event id, and once
        per (saved search, job) whatever the event id. Returns how many were queued."""
        queued = 0
        with serialized_transaction(self.engine) as conn:
            if not inbox.first_time(conn, event_id):
                return 0
            for alert in new:
                # The search may have been switched off or deleted since it was matched.
                still_on = conn.execute(
                    sa.select(saved_searches.c.alerts).where(saved_searches.c.id == alert.saved_search_id)
                ).scalar()
                if not still_on:
                    continue
                values = columns_from(alerts, alert, job_id=job_id, created_at=now, next_attempt_at=now, attempts=0)
                queued += insert_ignoring_duplicates(conn, alerts, **values)
        return queued

    def due_alerts(self, now: datetime, limit: int = 50) -> list[AlertMail]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(alerts)
                .where(alerts.c.sent_at.is_(None), alerts.c.next_attempt_at <= now)
                .order_by(alerts.c.id)
                .limit(limit)
            ).all()
        return [AlertMail(**fields_from(AlertMail, row)) for row in rows]

    def claim_alert(self, alert_id: int, now: datetime, lease: timedelta) -> bool:
        """Take one due alert for sending (another sender then skips it until the lease ends)."""
        with serialized_transaction(self.engine) as conn:
            claimed = conn.execute(
                alerts.update()
                .where(alerts.c.id == alert_id, alerts.c.sent_at.is_(None), alerts.c.next_attempt_at <= now)
                .values(next_attempt_at=now + lease, attempts=alerts.c.attempts + 1)
            ).rowcount
        return claimed == 1

    def alert_sent(self, alert_id: int, now: datetime) -> None:
        with serialized_transaction(self.engine) as conn:
            conn.execute(alerts.update().where(alerts.c.id == alert_id).values(sent_at=now))

    def alert_failed(self, alert_id: int, retry_at: datetime) -> None:
        with serialized_transaction(self.engine) as conn:
            conn.execute(alerts.update().where(alerts.c.id == alert_id).values(next_attempt_at=retry_at))

    def pending_alerts(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(alerts).where(alerts.c.sent_at.is_(None))
            ).scalar_one()

    # -- profiles ----------------------------------------------------------------------
    def get_profile(self, user_id: str) -> contract.CareerProfile:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(profiles).where(profiles.c.user_id == user_id)).first()
        if row is None:
            return contract.CareerProfile(user_id=user_id)
        return contract.CareerProfile(
            user_id=user_id, certifications=json.loads(row.certifications), specialty=row.specialty
        )

    def set_profile(self, request: contract.SetProfileRequest, now: datetime) -> contract.CareerProfile:
        with serialized_transaction(self.engine) as conn:
            values = dict(
                certifications=json.dumps(request.certifications), specialty=request.specialty, updated_at=now
            )
            if not insert_ignoring_duplicates(conn, profiles, user_id=request.user_id, **values):
                conn.execute(profiles.update().where(profiles.c.user_id == request.user_id).values(**values))
        return contract.CareerProfile(
            user_id=request.user_id, certifications=request.certifications, specialty=request.specialty
        )

    # -- accounts' events --------------------------------------------------------------
    def forget_user(self, user_id: str, event_id: str, now: datetime) -> list[str] | None:
        """`user_deleted`: the person's applications, saved searches, queued alerts and
        profile go; their open jobs are closed. Returns the closed job ids (None for a
        redelivered event)."""
        with serialized_transaction(self.engine) as conn:
            if not inbox.first_time(conn, event_id):
                return None
            conn.execute(applications.delete().where(applications.c.applicant_id == user_id))
            conn.execute(alerts.delete().where(alerts.c.user_id == user_id))
            conn.execute(saved_searches.delete().where(saved_searches.c.user_id == user_id))
            conn.execute(profiles.delete().where(profiles.c.user_id == user_id))
            closed = list(
                conn.execute(
                    sa.select(jobs.c.id).where(jobs.c.employer_id == user_id, jobs.c.status == contract.JOB_PUBLISHED)
                ).scalars()
            )
            if closed:
                conn.execute(
                    jobs.update().where(jobs.c.id.in_(closed)).values(status=contract.JOB_CLOSED, closed_at=now)
                )
        return closed

    def pending_events(self) -> int:
        with self.engine.connect() as conn:
            return outbox.pending(conn)
