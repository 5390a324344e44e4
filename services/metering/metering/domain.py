"""Metering rules, free of Nameko and of the database: quotas per plan, periods, the
per-IP cap for guests, and the words a refused person reads.

A *period* is anchored at a subject's first metered use: it lasts `period` and the next
one starts with the first use after it ends (so there is no calendar edge to game).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from medcode_contracts import events
from medcode_contracts.accounts import Plan
from medcode_contracts.metering import (
    CarryOverRequest,
    CheckViewsRequest,
    ClaimDecision,
    Meter,
    MeterRequest,
    QuestionDecision,
    ViewDecision,
)

from .config import MeteringSettings


def utcnow() -> datetime:
    return datetime.now(UTC)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass(frozen=True)
class Quotas:
    views: dict[Plan, int | None]
    questions: dict[Plan, int | None]
    period_seconds: int
    guest_ip_daily_cap: int | None
    claims: dict[Plan, int | None] | None = None  # claim checks per UTC day
    guest_ip_daily_claims: int | None = None
    retention_seconds: int = 7 * 86400
    # Guest questions per client IP per UTC day, so new guest ids do not reset the meter.
    guest_ip_daily_questions: int | None = None

    @classmethod
    def from_settings(cls, s: MeteringSettings) -> Quotas:
        return cls(
            views={
                Plan.GUEST: s.METERING_GUEST_VIEWS,
                Plan.FREE: s.METERING_FREE_VIEWS,
                Plan.PRO: s.METERING_PRO_VIEWS,
            },
            questions={
                Plan.GUEST: s.METERING_GUEST_QUESTIONS,
                Plan.FREE: s.METERING_FREE_QUESTIONS,
                Plan.PRO: s.METERING_PRO_QUESTIONS,
            },
            period_seconds=s.METERING_PERIOD_DAYS * 86400,
            guest_ip_daily_cap=s.METERING_GUEST_IP_DAILY_CAP,
            claims={
                Plan.GUEST: s.METERING_GUEST_CLAIMS,
                Plan.FREE: s.METERING_FREE_CLAIMS,
                Plan.PRO: s.METERING_PRO_CLAIMS,
            },
            guest_ip_daily_claims=s.METERING_GUEST_IP_DAILY_CLAIMS,
            retention_seconds=s.METERING_RETENTION_DAYS * 86400,
            guest_ip_daily_questions=s.METERING_GUEST_IP_DAILY_QUESTIONS,
        )

    @property
    def period_days(self) -> int:
        return self.period_seconds // 86400

    # -- what a refused person reads --------------------------------------------------
    def views_refusal(self, plan: Plan) -> str:
        limit = self.views[plan]
        if plan is Plan.GUEST:
            free = self.views[Plan.FREE]
            more = (
                "Register a free account to read more."
                if free is None
                else (f"Register a free account to get {_plural(max(0, free - (limit or 0)), 'more view')}.")
            )
            return f"Guest accounts are limited to {_plural(limit or 0, 'page view')}. {more}"
        return (
            f"Your {plan.value} plan includes {_plural(limit or 0, 'code page')} every "
            f"{_plural(self.period_days, 'day')}, and you have used them. "
            "Upgrade to PRO for unlimited code pages."
        )

    def ip_cap_refusal(self) -> str:
        return "Too many guest page views from your network today. Register a free account to keep reading."

    def claims_refusal(self, plan: Plan) -> str:
        limit = (self.claims or {}).get(plan) or 0
        if plan is Plan.GUEST:
            free = (self.claims or {}).get(Plan.FREE)
            more = (
                "Register a free account to check more."
                if free is None
                else (f"Register a free account to check {_plural(free, 'claim')} a day.")
            )
            return (
                f"Guests can check {_plural(limit, 'claim')} a day in full: the edits and their details "
                f"are withheld. {more}"
            )
        return (
            f"Your {plan.value} plan includes {_plural(limit, 'full claim check')} a day, and you have "
            "used them today: the edits and their details are withheld. "
            "Upgrade to PRO for unlimited claim checks."
        )

    def ip_claims_refusal(self) -> str:
        return (
            "Too many guest claim checks from your network today: the edits and their details are "
            "withheld. Register a free account to keep checking."
        )

    def ip_questions_refusal(self) -> str:
        return "Too many guest questions from your network today. Register a free account to keep asking."

    def questions_refusal(self, plan: Plan) -> str:
        limit = self.questions[plan] or 0
        if plan is Plan.GUEST:
            return (
                f"Guests can ask the coding assistant {_plural(limit, 'question')}. "
                "Register a free account to ask more."
            )
        return (
            f"Your {plan.value} plan includes {_plural(limit, 'question')} every "
            f"{_plural(self.period_days, 'day')}, and you have used them. "
            "Upgrade to PRO for unlimited questions."
        )


def subject_key(subject: str, plan: Plan) -> str:
    """Guests and users live in separate namespaces: a guest id can never collide with
    (and so never spend or inherit) a user's meter."""
    return f"{'guest' if plan is Plan.GUEST else 'user'}:{subject}"


def current_period_start(stored_start: int | None, now: int, period_seconds: int) -> int:
    """The start (epoch seconds) of the subject's period at `now`: the stored one while it
    lasts, else a new one starting now."""
    if stored_start is None or now >= stored_start + period_seconds:
        return now
    return stored_start


def remaining(limit: int | None, used: int) -> int | None:
    return None if limit is None else max(0, limit - used)


def utc_day(now: int) -> str:
    return datetime.fromtimestamp(now, UTC).date().isoformat()


class Outcome(enum.Enum):
    SEEN = "seen"  # already viewed in this period: free
    GRANTED = "granted"  # a new view, counted
    QUOTA = "quota"  # refused: the subject's quota is used up
    IP_CAP = "ip_cap"  # refused: too many guest views from this IP today


def decide_view(*, seen: bool, used: int, limit: int | None, ip_used: int | None, ip_cap: int | None) -> Outcome:
    """One resource's fate. `ip_used`/`ip_cap` apply to guests only (None otherwise)."""
    if seen:
        return Outcome.SEEN
    if limit is not None and used >= limit:
        return Outcome.QUOTA
    if ip_cap is not None and ip_used is not None and ip_used >= ip_cap:
        return Outcome.IP_CAP
    return Outcome.GRANTED


def decide_views(
    resources: list[str], *, seen: set[str], used: int, limit: int | None, ip_used: int | None, ip_cap: int | None
) -> list[tuple[str, Outcome, int]]:
    """Each resource's fate, in order, as (resource, outcome, views used after it): a
    granted one counts (for the subject and its network) before the next is decided, and
    a resource named twice is seen the second time."""
    seen = set(seen)
    fates = []
    for resource in resources:
        outcome = decide_view(seen=resource in seen, used=used, limit=limit, ip_used=ip_used, ip_cap=ip_cap)
        if outcome is Outcome.GRANTED:
            seen.add(resource)
            used += 1
            if ip_used is not None:
                ip_used += 1
        fates.append((resource, outcome, used))
    return fates


class Metering:
    """The use cases; `store` is a storage.MeterStore (atomic per subject)."""

    def __init__(self, store, clock=utcnow, retention_interval: float = 3600):
        self.store = store
        self.clock = clock
        self.retention_interval = retention_interval
        self._last_purge: float | None = None

    def check_views(self, request: CheckViewsRequest) -> list[ViewDecision]:
        return self.store.check_views(request.subject, request.plan, request.resources, request.client_ip, self.clock())

    def get_meter(self, request: MeterRequest) -> Meter:
        return self.store.get_meter(request.subject, request.plan, self.clock())

    def check_questions(self, request: MeterRequest) -> QuestionDecision:
        return self.store.check_question(request.subject, request.plan, self.clock(), request.client_ip)

    def check_claim(self, request: MeterRequest) -> ClaimDecision:
        return self.store.check_claim(request.subject, request.plan, request.client_ip, self.clock())

    def purge(self) -> dict[str, int]:
        """The retention job: rows of no further use go (see MeterStore.purge)."""
        return self.store.purge(self.clock())

    def purge_if_due(self) -> dict[str, int] | None:
        """purge() when the last one is `retention_interval` seconds ago (or never ran in
        this process), else None."""
        now = self.clock().timestamp()
        if self._last_purge is not None and now - self._last_purge < self.retention_interval:
            return None
        self._last_purge = now
        return self.purge()

    def carry_over(self, request: CarryOverRequest) -> Meter:
        self.store.carry_over(request.guest_id, request.user_id, self.clock())
        return self.store.get_meter(request.user_id, Plan.FREE, self.clock())

    # -- events from accounts: each is applied once per event_id -----------------------
    def on_user_registered(self, event: events.UserRegistered) -> bool:
        if event.guest_id:
            return self.store.carry_over(event.guest_id, event.user_id, self.clock(), event_id=event.event_id)
        return self.store.mark_seen(event.event_id)

    def on_user_deleted(self, event: events.UserDeleted) -> bool:
        return self.store.forget_user(event.user_id, event_id=event.event_id)
