"""Metering over the real store, on SQLite and on PostgreSQL, including concurrent grants."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import eventlet
import pytest
import sqlalchemy as sa

from medcode_contracts import events
from medcode_contracts.accounts import Plan
from metering import storage
from metering.config import load_metering_settings
from metering.domain import Quotas
from metering.storage import MeterStore

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HELPER = Path(__file__).resolve().parent.parent / "concurrent_grants.py"


@pytest.fixture
def store(metering_engine):
    return MeterStore(metering_engine, Quotas.from_settings(load_metering_settings()))


def granted(decisions):
    return [d.granted for d in decisions]


def outbox(engine, kind=None):
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(storage.outbox.table.c.event_type, storage.outbox.table.c.payload).order_by(
                storage.outbox.table.c.id
            )
        ).all()
    return [json.loads(r.payload) for r in rows if kind in (None, r.event_type)]


def _sql_of(engine):
    """Every SQL statement `engine` runs from now on, as the database gets it: on SQLite
    from the driver's trace (the one-page read goes around SQLAlchemy's execution)."""
    statements: list[str] = []
    if engine.dialect.name == "sqlite":
        engine.dispose()  # connections are made again, traced
        sa.event.listen(engine, "connect", lambda dbapi, _record: dbapi.set_trace_callback(statements.append))
    else:
        sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


def test_guest_gets_one_view_then_a_reason(store):
    first, second = store.check_views("g1", Plan.GUEST, ["ICD10CM:K22.0", "ICD10CM:A00.0"], "1.1.1.1", T0)
    assert (first.granted, first.remaining, first.limit) == (True, 0, 1)
    assert not second.granted
    assert second.reason == ("Guest accounts are limited to 1 page view. Register a free account to get 5 more views.")


def test_reopening_the_same_resource_costs_nothing(store):
    for _ in range(3):
        assert granted(store.check_views("g1", Plan.GUEST, ["ICD10CM:K22.0"], "1.1.1.1", T0)) == [True]
    assert store.get_meter("g1", Plan.GUEST, T0).used == 1
    # the same code twice in one request counts once too
    assert granted(store.check_views("u1", Plan.FREE, ["CPT:99213", "CPT:99213"], None, T0)) == [True, True]
    assert store.get_meter("u1", Plan.FREE, T0).used == 1


def test_reopening_seen_pages_is_answered_without_a_write(store, metering_engine):
    store.check_views("u1", Plan.FREE, ["A:1", "A:2"], None, T0)
    statements = _sql_of(metering_engine)
    decisions = store.check_views("u1", Plan.FREE, ["A:2", "A:1"], None, T0)
    assert [(d.resource, d.granted, d.remaining) for d in decisions] == [("A:2", True, 4), ("A:1", True, 4)]
    assert statements and all(sql.lstrip().upper().startswith("SELECT") for sql in statements)
    statements.clear()
    store.check_views("u1", Plan.FREE, ["A:1", "A:3"], None, T0)  # one new page: the locked path
    assert any(not sql.lstrip().upper().startswith("SELECT") for sql in statements)
    assert store.get_meter("u1", Plan.FREE, T0).used == 3


def _locked_path_only(store):
    """The same store deciding everything under the subject's lock (as before the plain read)."""
    locked = MeterStore(store.engine, store.quotas)
    locked._decide_from_snapshot = lambda *args: None
    return locked


def _contents(engine):
    tables = [storage.subjects, storage.views, storage.ip_days, storage.outbox.table]
    with engine.connect() as conn:
        return {t.name: sorted(map(tuple, conn.execute(sa.select(t)).all()), key=repr) for t in tables}


def test_refusals_that_change_nothing_are_answered_from_a_plain_read_as_the_lock_would(store, metering_engine):
    for i in range(10):  # the network's cap of new guest views today
        store.check_views(f"g{i}", Plan.GUEST, ["A:1"], "9.9.9.9", T0)
    for n in range(1, 8):  # a FREE user past the quota, told so once
        store.check_views("u1", Plan.FREE, [f"A:{n}"], None, T0)
    asks = [
        ("new-guest", Plan.GUEST, ["A:1"], "9.9.9.9"),  # a cookie-less guest of a capped network
        ("new-guest", Plan.GUEST, ["A:1", "A:2", "A:1"], "9.9.9.9"),
        ("g1", Plan.GUEST, ["A:1", "A:2"], "9.9.9.9"),  # its one view seen, the next over quota
        ("u1", Plan.FREE, ["A:3", "A:9", "A:1"], None),  # seen pages free, new ones refused
    ]
    store.check_views("g1", Plan.GUEST, ["A:2"], "9.9.9.9", T0)  # g1 told its quota is used up
    locked = _locked_path_only(store)
    statements = _sql_of(metering_engine)
    for subject, plan, resources, ip in asks:
        before = _contents(metering_engine)
        statements.clear()
        decisions = store.check_views(subject, plan, resources, ip, T0)
        assert statements and all(sql.lstrip().upper().startswith("SELECT") for sql in statements), subject
        assert decisions == locked.check_views(subject, plan, resources, ip, T0)
        assert _contents(metering_engine) == before  # the locked path changed nothing either
    assert [d.granted for d in store.check_views("u1", Plan.FREE, ["A:3", "A:9", "A:1"], None, T0)] == [
        True,
        False,
        True,
    ]


def test_what_grants_or_tells_still_takes_the_locked_path(store, metering_engine):
    statements = _sql_of(metering_engine)
    for n in range(1, 7):
        store.check_views("u1", Plan.FREE, [f"A:{n}"], None, T0)
    statements.clear()
    assert granted(store.check_views("u1", Plan.FREE, ["A:7"], None, T0)) == [False]  # the first refusal
    assert any(sql.lstrip().upper().startswith("INSERT") for sql in statements)
    assert len(outbox(metering_engine, "quota_exhausted")) == 1


def test_a_seen_page_in_a_new_period_is_a_new_view(store):
    store.check_views("u1", Plan.FREE, ["A:1"], None, T0)
    later = T0 + timedelta(days=31)
    decision = store.check_views("u1", Plan.FREE, ["A:1"], None, later)[0]
    assert decision.granted and decision.remaining == 5
    assert store.get_meter("u1", Plan.FREE, later).used == 1


def test_free_gets_six_in_all_and_pro_is_unlimited(store):
    codes = [f"ICD10CM:A0{i}" for i in range(8)]
    assert granted(store.check_views("u1", Plan.FREE, codes, None, T0)) == [True] * 6 + [False] * 2
    meter = store.get_meter("u1", Plan.FREE, T0)
    assert (meter.limit, meter.used, meter.remaining) == (6, 6, 0)
    assert "Upgrade to PRO" in store.check_views("u1", Plan.FREE, ["X:1"], None, T0)[0].reason
    pro = store.check_views("u1", Plan.PRO, codes + ["X:1"], None, T0)  # same user, now PRO
    assert granted(pro) == [True] * 9 and pro[0].limit is None and pro[0].remaining is None
    assert store.get_meter("u1", Plan.PRO, T0).remaining is None


def test_view_recorded_for_each_new_view_and_quota_exhausted_once_per_period(store, metering_engine):
    store.check_views("g1", Plan.GUEST, ["A:1", "A:1", "A:2"], "1.1.1.1", T0)
    store.check_views("g1", Plan.GUEST, ["A:3"], "1.1.1.1", T0)
    recorded = outbox(metering_engine, "view_recorded")
    assert [(e["subject"], e["resource"], e["used"], e["limit"]) for e in recorded] == [("g1", "A:1", 1, 1)]
    exhausted = outbox(metering_engine, "quota_exhausted")
    assert [(e["subject"], e["plan"], e["limit"]) for e in exhausted] == [("g1", "GUEST", 1)]
    for payload in recorded + exhausted:
        events.parse(payload)  # valid against the published schemas


def test_a_new_period_starts_when_the_old_one_ends(store, metering_engine):
    store.check_views("g1", Plan.GUEST, ["A:1", "A:2"], "1.1.1.1", T0)
    later = T0 + timedelta(days=30)
    assert granted(store.check_views("g1", Plan.GUEST, ["A:2"], "1.1.1.1", later - timedelta(seconds=1))) == [False]
    assert store.get_meter("g1", Plan.GUEST, later).used == 0
    assert granted(store.check_views("g1", Plan.GUEST, ["A:2", "A:3"], "1.1.1.1", later)) == [True, False]
    assert len(outbox(metering_engine, "quota_exhausted")) == 2


def test_guests_are_capped_per_ip_per_day_whatever_their_id(store):
    results = [store.check_views(f"g{i}", Plan.GUEST, ["A:1"], "9.9.9.9", T0)[0] for i in range(12)]
    assert granted(results) == [True] * 10 + [False] * 2
    assert "network" in results[-1].reason
    assert granted(store.check_views("g0", Plan.GUEST, ["A:1"], "9.9.9.9", T0)) == [True]  # re-open: free
    assert granted(store.check_views("g99", Plan.GUEST, ["A:1"], "8.8.8.8", T0)) == [True]
    assert granted(store.check_views("g98", Plan.GUEST, ["A:1"], "9.9.9.9", T0 + timedelta(days=1))) == [True]
    assert granted(store.check_views("u1", Plan.FREE, ["A:1"], "9.9.9.9", T0)) == [True]  # users: no IP cap


def test_registration_carries_the_guest_views_over_once(store):
    store.check_views("g1", Plan.GUEST, ["A:1"], "1.1.1.1", T0)
    assert store.carry_over("g1", "u1", T0, event_id="e-1") is True
    assert store.get_meter("u1", Plan.FREE, T0).used == 1
    assert store.carry_over("g1", "u1", T0) is False  # the RPC after the event: no-op
    assert store.carry_over("g1", "u1", T0, event_id="e-1") is False  # redelivery: ignored
    assert granted(store.check_views("u1", Plan.FREE, ["A:1"] + [f"B:{i}" for i in range(6)], None, T0)) == [
        True
    ] * 6 + [False]


def test_carry_over_merges_with_views_the_user_already_has(store):
    store.check_views("g1", Plan.GUEST, ["A:1"], "1.1.1.1", T0)
    store.check_views("u1", Plan.FREE, ["A:1", "A:2"], None, T0)  # before the event arrived
    store.carry_over("g1", "u1", T0)
    assert store.get_meter("u1", Plan.FREE, T0).used == 2


def test_forget_user_deletes_the_users_data_once_per_event(store, metering_engine):
    store.check_views("u1", Plan.FREE, ["A:1"], None, T0)
    store.check_question("u1", Plan.FREE, T0)
    assert store.forget_user("u1", event_id="e-9") is True
    with metering_engine.connect() as conn:
        for table in (storage.subjects, storage.views):
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0
    assert store.forget_user("u1", event_id="e-9") is False


def test_questions_are_counted_per_plan(store):
    decisions = [store.check_question("g1", Plan.GUEST, T0) for _ in range(4)]
    assert granted(decisions) == [True, True, True, False]
    assert decisions[0].remaining == 2 and "Register" in decisions[-1].reason
    assert store.check_question("u1", Plan.PRO, T0).remaining is None


def test_new_guest_ids_do_not_reset_the_question_meter_of_a_network(metering_engine):
    quotas = Quotas.from_settings(load_metering_settings(METERING_GUEST_IP_DAILY_QUESTIONS="4"))
    store = MeterStore(metering_engine, quotas)
    # A client dropping its cookie gets a new guest id per question: the IP cap still holds.
    decisions = [store.check_question(f"g{i}", Plan.GUEST, T0, "3.3.3.3") for i in range(6)]
    assert granted(decisions) == [True, True, True, True, False, False]
    assert "network" in decisions[-1].reason
    assert store.check_question("g9", Plan.GUEST, T0, "4.4.4.4").granted  # another network
    assert store.check_question("g9", Plan.GUEST, T0 + timedelta(days=1), "3.3.3.3").granted  # a new day
    assert store.check_question("u1", Plan.FREE, T0, "3.3.3.3").granted  # members are not capped by IP


def test_twenty_concurrent_green_requests_grant_exactly_one(store):
    """Twenty workers of one service process (green threads, as Nameko runs them)."""
    pool = eventlet.GreenPool(20)
    results = list(
        pool.imap(lambda i: store.check_views("g-race", Plan.GUEST, [f"ICD10CM:Z{i:02d}"], "2.2.2.2", T0)[0], range(20))
    )
    assert sum(d.granted for d in results) == 1
    assert store.get_meter("g-race", Plan.GUEST, T0).used == 1


def test_twenty_concurrent_requests_from_two_processes_grant_exactly_one(store, database_url):
    """Real threads in two other processes against the same database."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(HELPER), database_url, "g-race", "10", str(10 * n)], stdout=subprocess.PIPE, text=True
        )
        for n in range(2)
    ]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    assert sum(len(json.loads(out)) for out in outputs) == 1
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(storage.views)).scalar_one() == 1


# -- answers kept in memory (FinalViews) -------------------------------------------------
def _only_reads(statements):
    return all(sql.lstrip().upper().startswith("SELECT") for sql in statements)


def test_a_guest_reopening_its_page_costs_no_write_and_then_no_read(store, metering_engine):
    store.check_views("g1", Plan.GUEST, ["A:1"], "1.1.1.1", T0)
    statements = _sql_of(metering_engine)
    other_replica = MeterStore(metering_engine, store.quotas)  # nothing kept in its memory
    [decision] = other_replica.check_views("g1", Plan.GUEST, ["A:1"], "1.1.1.1", T0)
    assert (decision.granted, decision.remaining, decision.limit) == (True, 0, 1)
    assert statements and _only_reads(statements)
    statements.clear()
    for replica in (store, other_replica):  # the guest's quota is used up: the answer is final
        assert replica.check_views("g1", Plan.GUEST, ["A:1"], "1.1.1.1", T0) == [decision]
    assert statements == []


def test_a_pro_page_opened_again_is_answered_from_memory_as_the_database_would(store, metering_engine):
    store.check_views("u1", Plan.PRO, ["A:1", "A:2"], None, T0)
    statements = _sql_of(metering_engine)
    kept = store.check_views("u1", Plan.PRO, ["A:2", "A:1"], None, T0)
    assert statements == []
    assert kept == _locked_path_only(MeterStore(metering_engine, store.quotas)).check_views(
        "u1", Plan.PRO, ["A:2", "A:1"], None, T0
    )
    assert [(d.granted, d.limit, d.remaining) for d in kept] == [(True, None, None)] * 2


def test_an_answer_that_can_still_change_is_not_kept(store, metering_engine):
    store.check_views("u1", Plan.FREE, ["A:1"], None, T0)
    assert store.check_views("u1", Plan.FREE, ["A:1"], None, T0)[0].remaining == 5
    store.check_views("u1", Plan.FREE, ["A:2"], None, T0)
    assert store.check_views("u1", Plan.FREE, ["A:1"], None, T0)[0].remaining == 4  # not the 5 of before


def test_a_plan_change_is_never_answered_with_the_other_plans_answer(store):
    store.check_views("u1", Plan.PRO, ["A:1", "A:2", "A:3"], None, T0)  # kept as PRO answers
    [as_free] = store.check_views("u1", Plan.FREE, ["A:1"], None, T0)  # downgraded
    assert (as_free.granted, as_free.limit, as_free.remaining) == (True, 6, 3)
    store.check_views("u1", Plan.FREE, ["B:1", "B:2", "B:3", "B:4"], None, T0)  # 6 used (one refused)
    assert store.check_views("u1", Plan.FREE, ["A:1"], None, T0)[0].remaining == 0  # final now: kept
    [as_pro] = store.check_views("u1", Plan.PRO, ["A:1"], None, T0)  # upgraded again
    assert (as_pro.granted, as_pro.limit, as_pro.remaining) == (True, None, None)
    assert granted(store.check_views("u1", Plan.FREE, ["B:4"], None, T0)) == [False]


def test_a_kept_page_in_a_new_period_is_a_new_view(store, metering_engine):
    store.check_views("u1", Plan.PRO, ["A:1"], None, T0)
    store.check_views("u1", Plan.PRO, ["A:1"], None, T0)  # kept
    later = T0 + timedelta(days=30)
    assert granted(store.check_views("u1", Plan.PRO, ["A:1"], None, later)) == [True]
    assert store.get_meter("u1", Plan.PRO, later).used == 1
    assert [e["resource"] for e in outbox(metering_engine, "view_recorded")] == ["A:1", "A:1"]


def test_a_deleted_users_pages_are_views_again(store, metering_engine):
    store.check_views("u1", Plan.PRO, ["A:1"], None, T0)
    store.check_views("u1", Plan.PRO, ["A:1"], None, T0)  # kept
    store.forget_user("u1", event_id="e-1")
    assert granted(store.check_views("u1", Plan.PRO, ["A:1"], None, T0)) == [True]
    assert store.get_meter("u1", Plan.PRO, T0).used == 1  # recorded again, not answered from memory


def test_an_answer_read_before_a_clear_is_not_kept():
    final = storage.FinalViews(maxsize=2)
    read_at = final.generation
    final.clear()  # a forget_user while the request waited for the database
    final.keep(read_at, "user:u1", Plan.PRO, ["A:1"], None, 1, period_end=100)
    assert final.get("user:u1", Plan.PRO, "A:1", 0) is None
    final.keep(final.generation, "user:u1", Plan.PRO, ["A:1", "A:2", "A:3"], None, 3, period_end=100)
    assert final.get("user:u1", Plan.PRO, "A:1", 0) is None  # bounded: the oldest went
    assert final.get("user:u1", Plan.PRO, "A:3", 99) is not None
    assert final.get("user:u1", Plan.PRO, "A:3", 100) is None  # its period is over
