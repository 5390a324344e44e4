"""Accounts against abuse, on SQLite and PostgreSQL: password hashes in flight are
bounded per process, log-ins are throttled per client address and per account as well as
per pair, and sign-ups per client address (attempts per hour, new accounts per day)."""

from datetime import UTC, datetime, timedelta

import eventlet
import pytest
from eventlet.semaphore import Semaphore

from accounts.config import load_accounts_settings
from accounts.dependencies import build_accounts
from accounts.domain import Passwords
from medcode_contracts.accounts import LoginRequest, RegisterRequest
from medcode_contracts.errors import Conflict, RateLimited, Unauthenticated


class Clock:
    def __init__(self):
        self.now = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


def make_accounts(engine, clock, **settings):
    accounts = build_accounts(engine, load_accounts_settings(**settings))
    accounts.clock = clock
    return accounts


def register(accounts, email, ip="198.51.100.1", password="s3cret-pass"):
    return accounts.register(RegisterRequest(email=email, password=password, name="Ann", client_ip=ip))


def login(accounts, email, password="s3cret-pass", ip="198.51.100.1"):
    return accounts.login(LoginRequest(email=email, password=password, client_ip=ip))


# -- hashes in flight --------------------------------------------------------------------
def test_password_hashes_in_flight_are_bounded_per_process():
    settings = load_accounts_settings(ARGON2_MAX_CONCURRENT=3)
    in_flight, peak = [0], [0]

    def run_blocking(function, *args):  # as tpool.execute: other green threads run meanwhile
        in_flight[0] += 1
        peak[0] = max(peak[0], in_flight[0])
        eventlet.sleep(0.01)
        try:
            return function(*args)
        finally:
            in_flight[0] -= 1

    passwords = Passwords(settings, run_blocking, slots=Semaphore(settings.ARGON2_MAX_CONCURRENT))
    stored = passwords.hash("s3cret-pass")
    pool = eventlet.GreenPool(50)
    results = list(pool.imap(lambda n: passwords.verify(stored if n % 2 else None, "s3cret-pass"), range(50)))
    assert results == [bool(n % 2) for n in range(50)]
    assert peak[0] == 3


# -- log-ins ------------------------------------------------------------------------------
def test_failed_logins_are_limited_per_client_address_whatever_the_email(accounts_engine, clock):
    accounts = make_accounts(accounts_engine, clock, LOGIN_ADDRESS_FAILURES_PER_HOUR=5)
    register(accounts, "ann@example.org")
    for n in range(5):
        with pytest.raises(Unauthenticated):
            login(accounts, f"guess-{n}@example.org", "wrong password", ip="203.0.113.7")
    with pytest.raises(RateLimited, match="try again in"):
        login(accounts, "guess-new@example.org", "wrong password", ip="203.0.113.7")
    with pytest.raises(RateLimited):  # the right password too, from there
        login(accounts, "ann@example.org", ip="203.0.113.7")
    assert login(accounts, "ann@example.org", ip="203.0.113.8").token  # another address is not affected
    clock.now += timedelta(hours=1, seconds=1)
    assert login(accounts, "ann@example.org", ip="203.0.113.7").token


def test_successful_logins_do_not_count_as_failures(accounts_engine, clock):
    accounts = make_accounts(
        accounts_engine, clock, LOGIN_ADDRESS_FAILURES_PER_HOUR=3, LOGIN_ACCOUNT_FAILURES_PER_HOUR=3
    )
    register(accounts, "ann@example.org")
    for _ in range(10):
        assert login(accounts, "ann@example.org").token


def test_failed_logins_are_limited_per_account_whatever_the_address(accounts_engine, clock):
    accounts = make_accounts(accounts_engine, clock, LOGIN_ACCOUNT_FAILURES_PER_HOUR=4)
    register(accounts, "bob@example.org")
    for n in range(4):  # one guess each from many addresses: the pair throttle never trips
        with pytest.raises(Unauthenticated):
            login(accounts, "bob@example.org", "wrong password", ip=f"203.0.113.{n + 20}")
    with pytest.raises(RateLimited):
        login(accounts, "bob@example.org", "another guess", ip="203.0.113.99")
    with pytest.raises(Unauthenticated):  # another account is not affected
        login(accounts, "carol-unknown@example.org", "wrong password", ip="203.0.113.99")
    clock.now += timedelta(hours=1, seconds=1)
    assert login(accounts, "bob@example.org", ip="203.0.113.99").token


# -- sign-ups ------------------------------------------------------------------------------
def test_new_accounts_per_client_address_per_day(accounts_engine, clock):
    accounts = make_accounts(accounts_engine, clock, ACCOUNTS_PER_ADDRESS_PER_DAY=3)
    for n in range(3):
        register(accounts, f"farm-{n}@example.org", ip="203.0.113.60")
    with pytest.raises(RateLimited, match="Too many new accounts from your network today"):
        register(accounts, "farm-3@example.org", ip="203.0.113.60")
    assert register(accounts, "elsewhere@example.org", ip="203.0.113.61").token
    clock.now += timedelta(days=1, seconds=1)
    assert register(accounts, "farm-3@example.org", ip="203.0.113.60").token


def test_a_failed_sign_up_is_no_new_account_but_attempts_are_limited(accounts_engine, clock):
    accounts = make_accounts(
        accounts_engine, clock, ACCOUNTS_PER_ADDRESS_PER_DAY=2, REGISTER_ATTEMPTS_PER_ADDRESS_PER_HOUR=6
    )
    register(accounts, "taken@example.org", ip="203.0.113.70")
    for _ in range(3):
        with pytest.raises(Conflict):
            register(accounts, "taken@example.org", ip="203.0.113.70")
    assert register(accounts, "second@example.org", ip="203.0.113.70").token  # the conflicts did not count
    with pytest.raises(RateLimited, match="new accounts"):
        register(accounts, "third@example.org", ip="203.0.113.70")
    with pytest.raises(RateLimited, match="sign-up attempts"):  # the 7th attempt within the hour
        register(accounts, "fourth@example.org", ip="203.0.113.70")
