"""Metering against abuse, on SQLite and PostgreSQL: claim checks per plan and day, no row
for a refused guest, and a retention job that keeps a crawler's traces bounded."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from medcode_contracts import events
from medcode_contracts.accounts import Plan
from metering import storage
from metering.config import load_metering_settings
from metering.domain import Metering, Quotas
from metering.storage import MeterStore

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(metering_engine):
    return MeterStore(metering_engine, Quotas.from_settings(load_metering_settings()))


def rows(engine) -> dict[str, int]:
    tables = [
        storage.subjects,
        storage.views,
        storage.ip_days,
        storage.daily_uses,
        storage.carry_overs,
        storage.outbox.table,
        storage.inbox.table,
    ]
    with engine.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in tables}


# -- claim checks ---------------------------------------------------------------------------
def test_claim_checks_per_plan_and_day(store):
    guest = [store.check_claim("g1", Plan.GUEST, "198.51.100.1", T0) for _ in range(2)]
    assert [(d.granted, d.remaining, d.limit) for d in guest] == [(True, 0, 1), (False, 0, 1)]
    assert "Guests can check 1 claim a day" in guest[1].reason
    assert "Register a free account to check 10 claims a day" in guest[1].reason

    free = [store.check_claim("u1", Plan.FREE, None, T0) for _ in range(11)]
    assert [d.granted for d in free] == [True] * 10 + [False]
    assert free[9].remaining == 0 and "Upgrade to PRO" in free[10].reason

    pro = [store.check_claim("u2", Plan.PRO, None, T0) for _ in range(30)]
    assert all(d.granted and d.limit is None and d.remaining is None for d in pro)

    # A new UTC day, a new quota.
    assert store.check_claim("u1", Plan.FREE, None, T0 + timedelta(days=1)).granted
    assert store.check_claim("g1", Plan.GUEST, "198.51.100.1", T0 + timedelta(days=1)).granted


def test_guests_claim_checks_are_capped_per_network(store, metering_engine):
    decisions = [store.check_claim(uuid.uuid4().hex, Plan.GUEST, "198.51.100.9", T0) for _ in range(12)]
    assert [d.granted for d in decisions] == [True] * 10 + [False] * 2
    assert "Too many guest claim checks from your network" in decisions[-1].reason
    assert store.check_claim(uuid.uuid4().hex, Plan.GUEST, "198.51.100.10", T0).granted  # another network
    # The refused guests left nothing: 10 guests and 2 networks are all there is.
    assert rows(metering_engine)["metering_daily_uses"] == 10 + 1 + 2


# -- nothing stored for refused guests, and retention -----------------------------------
def test_a_refused_guest_leaves_no_row(store, metering_engine):
    assert store.check_views("g0", Plan.GUEST, ["A:1"], "203.0.113.5", T0)[0].granted
    for _ in range(30):  # cookie-less: a new guest id each time, the same network
        store.check_views(uuid.uuid4().hex, Plan.GUEST, ["A:2"], "203.0.113.5", T0)
    counts = rows(metering_engine)
    assert counts["metering_subjects"] == 10  # the per-IP cap's worth of guests, no more
    assert counts["metering_ip_days"] == 1


def test_a_thousand_request_cookieless_crawl_leaves_bounded_rows(store, metering_engine):
    metering = Metering(store, clock=lambda: T0)
    for n in range(1000):
        store.check_views(uuid.uuid4().hex, Plan.GUEST, [f"ICD10CM:A{n:04d}"], "203.0.113.77", T0)
    counts = rows(metering_engine)
    cap = store.quotas.guest_ip_daily_cap
    assert counts["metering_subjects"] == cap and counts["metering_views"] == cap
    assert counts["metering_outbox"] == cap  # one view_recorded per granted view only

    # Once the period is over and the events are published and old, the job purges it all.
    with metering_engine.begin() as conn:
        conn.execute(storage.outbox.table.update().values(published_at=T0))
        conn.execute(storage.inbox.table.insert().values(event_id=str(uuid.uuid4()), received_at=T0))
    later = T0 + timedelta(days=31)
    metering.clock = lambda: later
    gone = metering.purge()
    assert gone["subjects"] == cap and gone["views"] == cap and gone["outbox"] == cap
    assert set(rows(metering_engine).values()) == {0}


def test_retention_keeps_what_decisions_still_read(store, metering_engine):
    store.check_views("u1", Plan.FREE, ["A:1"], None, T0)
    store.check_views("g1", Plan.GUEST, ["A:1"], "203.0.113.8", T0)
    store.check_claim("g1", Plan.GUEST, "203.0.113.8", T0)
    with metering_engine.begin() as conn:
        storage.outbox.add(conn, events.QuotaExhausted(subject="u9", plan="FREE", limit=6))  # never published
    store.purge(T0 + timedelta(hours=1))
    assert store.get_meter("u1", Plan.FREE, T0).used == 1
    assert not store.check_views("g1", Plan.GUEST, ["A:2"], "203.0.113.8", T0)[0].granted
    assert not store.check_claim("g1", Plan.GUEST, "203.0.113.8", T0).granted
    # A day later the day counts are gone, an unpublished event never is.
    store.purge(T0 + timedelta(days=40))
    counts = rows(metering_engine)
    assert counts["metering_daily_uses"] == counts["metering_ip_days"] == counts["metering_subjects"] == 0
    assert counts["metering_outbox"] >= 1 and store.pending_events() >= 1


def test_the_retention_job_runs_once_per_interval(store):
    now = [T0]
    metering = Metering(store, clock=lambda: now[0], retention_interval=3600)
    assert metering.purge_if_due() is not None
    assert metering.purge_if_due() is None
    now[0] = T0 + timedelta(seconds=3601)
    assert metering.purge_if_due() is not None
