"""Rules without a database: emails, names, tokens, throttling delays, settings."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.config import DEV_TOKEN_SECRET, load_accounts_settings
from accounts.domain import LoginThrottle, Passwords, Tokens, clean_name, normalise_email
from medcode_common.settings import ConfigError
from medcode_contracts.errors import BadRequest, Unauthenticated


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("  Ann.Smith@Example.ORG ", "ann.smith@example.org"),
        ("BOB@EXAMPLE.COM", "bob@example.com"),
    ],
)
def test_emails_are_trimmed_and_lower_cased(raw, expected):
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "no-at-sign", "a@b", "a b@example.org", "a@@example.org", "x@example.", "x" * 250 + "@example.org"]
)
def test_invalid_emails_are_refused(raw):
    with pytest.raises(BadRequest, match="email"):
        normalise_email(raw)


def test_names_are_trimmed_and_must_not_be_empty():
    assert clean_name("  Ann \n Smith ") == "Ann Smith"
    with pytest.raises(BadRequest):
        clean_name("   ")


class Clock:
    def __init__(self):
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self):
        return self.now


def test_tokens_round_trip_and_expire():
    clock = Clock()
    tokens = Tokens("s" * 40, timedelta(hours=1), clock=clock)
    token, claims = tokens.issue("acc-1")
    decoded = tokens.decode(token)
    assert (decoded.account_id, decoded.jti) == ("acc-1", claims.jti)
    clock.now += timedelta(hours=1, seconds=1)
    with pytest.raises(Unauthenticated):
        tokens.decode(token)


def test_real_clock_expiry_is_enforced_by_the_signature_check():
    tokens = Tokens("s" * 40, timedelta(seconds=-5))  # already expired when issued
    token, _ = tokens.issue("acc-1")
    with pytest.raises(Unauthenticated):
        tokens.decode(token)


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
def test_malformed_tokens_are_unauthenticated(token):
    with pytest.raises(Unauthenticated):
        Tokens("s" * 40, timedelta(hours=1)).decode(token)


def test_a_token_signed_with_another_secret_is_refused():
    token, _ = Tokens("a" * 40, timedelta(hours=1)).issue("acc-1")
    with pytest.raises(Unauthenticated):
        Tokens("b" * 40, timedelta(hours=1)).decode(token)


def test_passwords_verify_and_unknown_hash_never_verifies():
    passwords = Passwords(load_accounts_settings())
    stored = passwords.hash("correct horse")
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "correct horse")
    assert not passwords.verify(stored, "wrong")
    assert not passwords.verify(None, "correct horse")


def test_login_delays_double_after_the_free_attempts_up_to_the_maximum():
    throttle = LoginThrottle(free_attempts=3, base_seconds=10, max_seconds=60, window_seconds=3600)
    assert [throttle.lock_seconds(n) for n in range(1, 9)] == [0, 0, 0, 10, 20, 40, 60, 60]
    assert throttle.key("a@example.org", "1.2.3.4") != throttle.key("a@example.org", "1.2.3.5")


def test_production_refuses_the_development_token_secret():
    with pytest.raises(ConfigError, match="TOKEN_SECRET"):
        load_accounts_settings(ENVIRONMENT="production", TOKEN_SECRET=DEV_TOKEN_SECRET)
    with pytest.raises(ConfigError, match="TOKEN_SECRET"):
        load_accounts_settings(ENVIRONMENT="production", TOKEN_SECRET="short")
    assert load_accounts_settings(ENVIRONMENT="production", TOKEN_SECRET="x" * 32).TOKEN_SECRET == "x" * 32
