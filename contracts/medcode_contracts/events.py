"""Versioned schemas of the public domain events (see docs/events.md).

Each event is published on the topic exchange `<service>.events` with routing key = event
type. The payload always carries `event_id`, `schema`, `occurred_at` and the trace context
(`traceparent`, W3C format, or null). A change that removes or retypes a field is a new
class with `/2` beside the old one, never an edit of a published schema.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from . import accounts, assistant, careers, codes, metering


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Event(BaseModel):
    """Common envelope. Subclasses set SOURCE, TYPE and VERSION."""

    model_config = ConfigDict(extra="forbid")

    SOURCE: ClassVar[str]
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    event_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    schema_: str = Field(default="", alias="schema")
    occurred_at: str = Field(default_factory=_now)
    traceparent: str | None = None

    def model_post_init(self, __context) -> None:
        if not self.schema_:
            self.schema_ = self.schema_id()

    @classmethod
    def schema_id(cls) -> str:
        return f"{cls.SOURCE}.{cls.TYPE}/{cls.VERSION}"

    def payload(self) -> dict:
        """The JSON object that goes on the wire."""
        return self.model_dump(mode="json", by_alias=True)


class EditionLoaded(Event):
    SOURCE = codes.SERVICE
    TYPE = codes.Events.EDITION_LOADED
    system: str
    edition: str
    effective_from: str
    codes: int
    added: int
    deleted: int
    revised: int


class UserRegistered(Event):
    SOURCE = accounts.SERVICE
    TYPE = "user_registered"
    user_id: str
    email: str
    plan: str
    role: str
    guest_id: str | None = None


class PlanChanged(Event):
    SOURCE = accounts.SERVICE
    TYPE = "plan_changed"
    user_id: str
    old_plan: str
    new_plan: str


class RoleChanged(Event):
    """An account's role changed (`make admin`): whoever keeps the account (the gateway's
    sessions) asks about it again."""

    SOURCE = accounts.SERVICE
    TYPE = accounts.Events.ROLE_CHANGED
    user_id: str
    old_role: str
    new_role: str


class UserDeleted(Event):
    SOURCE = accounts.SERVICE
    TYPE = "user_deleted"
    user_id: str


class SessionRevoked(Event):
    """A session ended before its token expired (logout): whoever keeps the session's
    account in a cache (the gateway) drops it. `session_id` is the token's `jti`; null
    means every session of the user."""

    SOURCE = accounts.SERVICE
    TYPE = accounts.Events.SESSION_REVOKED
    user_id: str
    session_id: str | None = None
    reason: str  # "logout"


class ViewRecorded(Event):
    SOURCE = metering.SERVICE
    TYPE = "view_recorded"
    subject: str
    resource: str
    used: int
    limit: int | None = None


class QuotaExhausted(Event):
    SOURCE = metering.SERVICE
    TYPE = "quota_exhausted"
    subject: str
    plan: str
    limit: int


class QuestionReceived(Event):
    SOURCE = assistant.SERVICE
    TYPE = "question_received"
    conversation_id: str
    channel: str
    user_id: str | None = None
    question: str


class AnswerReady(Event):
    SOURCE = assistant.SERVICE
    TYPE = "answer_ready"
    conversation_id: str
    answer_id: str
    channel: str
    intent: str
    user_id: str | None = None


class JobPosted(Event):
    """A job is published on the board (careers)."""

    SOURCE = careers.SERVICE
    TYPE = "job_posted"
    job_id: str
    employer_id: str
    title: str
    location: str
    remote: bool
    certifications: list[str]


class ApplicationSubmitted(Event):
    """A coder applied to a job (once per coder and job)."""

    SOURCE = careers.SERVICE
    TYPE = "application_submitted"
    application_id: str
    job_id: str
    applicant_id: str


class JobExpired(Event):
    """A published job passed its last listed day and left the board."""

    SOURCE = careers.SERVICE
    TYPE = "job_expired"
    job_id: str


CATALOGUE: tuple[type[Event], ...] = (
    EditionLoaded,
    UserRegistered,
    PlanChanged,
    RoleChanged,
    UserDeleted,
    ViewRecorded,
    QuotaExhausted,
    QuestionReceived,
    AnswerReady,
    JobPosted,
    ApplicationSubmitted,
    JobExpired,
    SessionRevoked,
)
BY_SCHEMA: dict[str, type[Event]] = {cls.schema_id(): cls for cls in CATALOGUE}


def parse(payload: dict) -> Event:
    """Validate a received payload against the schema it names."""
    cls = BY_SCHEMA.get(payload.get("schema", ""))
    if cls is None:
        raise ValueError(f"unknown event schema {payload.get('schema')!r}")
    return cls.model_validate(payload)
