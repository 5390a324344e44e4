"""Metering rules without a database."""

import pytest

from medcode_common.settings import ConfigError
from medcode_contracts.accounts import Plan
from metering.config import load_metering_settings
from metering.domain import (
    Outcome,
    Quotas,
    current_period_start,
    decide_view,
    decide_views,
    remaining,
    subject_key,
)

DAY = 86400


def quotas(**overrides):
    return Quotas.from_settings(load_metering_settings(**overrides))


def test_default_quotas_follow_the_product():
    q = quotas()
    assert q.views == {Plan.GUEST: 1, Plan.FREE: 6, Plan.PRO: None}
    assert (q.period_seconds, q.guest_ip_daily_cap) == (30 * DAY, 10)


def test_quotas_are_configurable_and_empty_means_unlimited(monkeypatch):
    monkeypatch.setenv("METERING_FREE_VIEWS", "")
    monkeypatch.setenv("METERING_GUEST_VIEWS", "2")
    monkeypatch.setenv("METERING_PERIOD_DAYS", "7")
    q = quotas()
    assert q.views[Plan.FREE] is None and q.views[Plan.GUEST] == 2 and q.period_days == 7


def test_bad_configuration_names_the_variable(monkeypatch):
    monkeypatch.setenv("METERING_GUEST_VIEWS", "-1")
    with pytest.raises(ConfigError, match="METERING_GUEST_VIEWS"):
        load_metering_settings()


def test_the_guest_reason_says_what_to_do():
    assert quotas().views_refusal(Plan.GUEST) == (
        "Guest accounts are limited to 1 page view. Register a free account to get 5 more views."
    )
    assert "Upgrade to PRO for unlimited code pages" in quotas().views_refusal(Plan.FREE)
    assert "Register a free account" in quotas().questions_refusal(Plan.GUEST)


def test_periods_are_anchored_at_first_use_and_roll_over():
    assert current_period_start(None, 1000, 30 * DAY) == 1000
    assert current_period_start(1000, 1000 + 30 * DAY - 1, 30 * DAY) == 1000
    assert current_period_start(1000, 1000 + 30 * DAY, 30 * DAY) == 1000 + 30 * DAY


@pytest.mark.parametrize(
    "kw, outcome",
    [
        (dict(seen=True, used=9, limit=1, ip_used=99, ip_cap=10), Outcome.SEEN),
        (dict(seen=False, used=0, limit=1, ip_used=0, ip_cap=10), Outcome.GRANTED),
        (dict(seen=False, used=1, limit=1, ip_used=0, ip_cap=10), Outcome.QUOTA),
        (dict(seen=False, used=0, limit=1, ip_used=10, ip_cap=10), Outcome.IP_CAP),
        (dict(seen=False, used=10**6, limit=None, ip_used=None, ip_cap=None), Outcome.GRANTED),
    ],
)
def test_view_decisions(kw, outcome):
    assert decide_view(**kw) is outcome


def test_views_of_one_request_are_decided_in_order_each_counting_for_the_next():
    fates = decide_views(["A", "B", "A", "C", "D"], seen={"B"}, used=3, limit=5, ip_used=8, ip_cap=10)
    assert fates == [
        ("A", Outcome.GRANTED, 4),
        ("B", Outcome.SEEN, 4),
        ("A", Outcome.SEEN, 4),  # named twice: counted once
        ("C", Outcome.GRANTED, 5),  # the network's 10th view today
        ("D", Outcome.QUOTA, 5),  # the quota is checked before the network's cap
    ]
    assert [o for _r, o, _u in decide_views(["A", "B"], seen=set(), used=0, limit=5, ip_used=9, ip_cap=10)] == [
        Outcome.GRANTED,
        Outcome.IP_CAP,
    ]


def test_guests_and_users_never_share_a_meter():
    assert subject_key("x", Plan.GUEST) != subject_key("x", Plan.FREE) == subject_key("x", Plan.PRO)
    assert remaining(None, 5) is None and remaining(6, 8) == 0
