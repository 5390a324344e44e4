"""gateway.auth: guest-cookie signatures, CSRF tokens, bearer parsing, the client's IP
behind proxies, and the auth settings."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from starlette.responses import Response

from gateway import auth as auth_module
from gateway.auth import (
    CSRF_COOKIE,
    GUEST_COOKIE,
    SESSION_COOKIE,
    UNKNOWN_IP,
    GatewayAuth,
    Signer,
    Source,
    bearer_token,
    client_ip,
    csrf_matches,
    csrf_token,
    guest_cookie_value,
    new_guest_id,
    read_guest_cookie,
)
from gateway.settings import DEV_GATEWAY_SECRET, AuthSettings, ConfigError, load_auth, parse_networks
from gateway.testing import make_request, set_cookies
from medcode_contracts.errors import Forbidden, Unauthenticated

SECRET = "test-secret-" + "x" * 32


@pytest.fixture
def signer() -> Signer:
    return Signer(SECRET)


# -- guest ids -------------------------------------------------------------------------
def test_guest_cookie_round_trip(signer):
    guest_id = new_guest_id()
    assert len(guest_id) == 32 and guest_id != new_guest_id()
    assert read_guest_cookie(signer, guest_cookie_value(signer, guest_id)) == guest_id


def test_tampered_guest_cookies_are_refused(signer):
    guest_id = new_guest_id()
    value = guest_cookie_value(signer, guest_id)
    _, signature = value.split(".", 1)
    other = new_guest_id()
    assert read_guest_cookie(signer, f"{other}.{signature}") is None  # someone else's id
    assert read_guest_cookie(signer, value[:-1] + ("A" if value[-1] != "A" else "B")) is None
    assert read_guest_cookie(signer, guest_id) is None  # no signature
    assert read_guest_cookie(Signer("another secret"), value) is None  # another key
    for garbage in (None, "", ".", "x" * 500, "ZZ" * 16 + "." + signature, "é." + signature):
        assert read_guest_cookie(signer, garbage) is None


def test_a_guest_signature_is_not_a_csrf_token(signer):
    guest_id = new_guest_id()
    signature = guest_cookie_value(signer, guest_id).split(".", 1)[1]
    assert not csrf_matches(signer, guest_id, signature)


def test_a_kept_signature_is_the_signature(monkeypatch):
    """CSRF tokens are remembered per session token (bounded; a long message is not kept):
    always the HMAC itself, never another message's."""
    monkeypatch.setattr(auth_module, "SIGNATURES_KEPT", 2)
    signer = Signer(SECRET)  # the bound is read when the signer is made
    key = hmac.new(SECRET.encode(), b"csrf", hashlib.sha256).digest()
    tokens = [f"tok-{i}" for i in range(5)] + ["t" * 600]
    for token in tokens + tokens[::-1]:
        expected = base64.urlsafe_b64encode(hmac.new(key, token.encode(), hashlib.sha256).digest()).rstrip(b"=")
        assert csrf_token(signer, token) == expected.decode() == signer.sign("csrf", token)
    assert len(signer._kept) == 2 and all(len(message) <= 512 for _, message in signer._kept)


def test_csrf_token_belongs_to_its_session(signer):
    token = csrf_token(signer, "session-a")
    assert csrf_matches(signer, "session-a", token)
    assert not csrf_matches(signer, "session-b", token)
    assert not csrf_matches(signer, "session-a", None)
    assert not csrf_matches(signer, "session-a", "")
    assert not csrf_matches(signer, "session-a", token.upper() if token.upper() != token else token + "x")
    assert not csrf_matches(Signer("another secret"), "session-a", token)


def test_an_empty_secret_is_refused():
    with pytest.raises(ValueError):
        Signer("")


# -- bearer tokens ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "header, token", [(None, None), ("Bearer abc.def", "abc.def"), ("bearer abc", "abc"), ("  Bearer   abc  ", "abc")]
)
def test_bearer_token(header, token):
    assert bearer_token(header) == token


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer a b", "Bearer " + "x" * 5000]
)
def test_malformed_authorization_is_unauthenticated(header):
    with pytest.raises(Unauthenticated, match="Bearer <token>"):
        bearer_token(header)


# -- client IP -------------------------------------------------------------------------
PROXIES = parse_networks("10.0.0.0/8, 127.0.0.1, ::1")


CLIENT_IPS = [
    ("198.51.100.7", [], "198.51.100.7"),
    # An untrusted peer cannot choose its address with the header.
    ("198.51.100.7", ["203.0.113.9"], "198.51.100.7"),
    # Behind a trusted proxy: the address the proxy saw.
    ("127.0.0.1", ["203.0.113.9"], "203.0.113.9"),
    # Whatever the client put left of it is ignored: the nearest untrusted hop counts.
    ("127.0.0.1", ["1.1.1.1, 203.0.113.9"], "203.0.113.9"),
    ("10.1.2.3", ["1.1.1.1, 203.0.113.9, 10.0.0.5"], "203.0.113.9"),
    ("10.1.2.3", ["1.1.1.1", "203.0.113.9, 10.0.0.5"], "203.0.113.9"),  # several header lines
    # Garbage stops the walk at the proxy that passed it on (a shared, stricter cap).
    ("127.0.0.1", ["203.0.113.9, not-an-ip"], "127.0.0.1"),
    ("127.0.0.1", ["203.0.113.9:4444"], "127.0.0.1"),
    ("10.1.2.3", ["203.0.113.9, junk, 10.0.0.5"], "10.0.0.5"),
    # Only proxies in the chain: the farthest one.
    ("10.1.2.3", ["10.9.9.9, 10.0.0.5"], "10.9.9.9"),
    ("127.0.0.1", [], "127.0.0.1"),
    # IPv6 clients count by their /64: any address of it is one client.
    ("::1", ["2001:DB8::0:1"], "2001:db8::/64"),
    ("::1", ["2001:db8::ffff:1234:5678:9abc"], "2001:db8::/64"),
    ("::1", ["2001:db8:0:1::1"], "2001:db8:0:1::/64"),
    ("2001:db8:aa:bb:1:2:3:4", [], "2001:db8:aa:bb::/64"),
    ("::ffff:198.51.100.7", [], "198.51.100.7"),
    (None, ["203.0.113.9"], UNKNOWN_IP),
    ("not-an-ip", [], UNKNOWN_IP),
]


@pytest.mark.parametrize("peer, forwarded, expected", CLIENT_IPS)
def test_client_ip(peer, forwarded, expected):
    assert client_ip(peer, forwarded, PROXIES) == expected


def test_without_trusted_proxies_the_header_is_ignored():
    assert client_ip("127.0.0.1", ["203.0.113.9"], ()) == "127.0.0.1"


@pytest.mark.parametrize("peer, forwarded, expected", CLIENT_IPS)
def test_a_remembered_client_ip_is_the_one_client_ip_gives(peer, forwarded, expected):
    """The gateway remembers the address of each (peer, X-Forwarded-For) it saw: asked
    again, in any order, and past its bound, the same answers as client_ip."""
    gateway_auth = GatewayAuth(
        AuthSettings(GATEWAY_SECRET=SECRET, GATEWAY_TRUSTED_PROXIES="10.0.0.0/8, 127.0.0.1, ::1")
    )
    for _ in range(2):
        assert gateway_auth._client_ip(peer, forwarded) == expected
        assert gateway_auth._client_ip(peer, [", ".join(forwarded)] if forwarded else []) == expected


def test_the_client_ips_kept_are_bounded(monkeypatch):
    monkeypatch.setattr(auth_module, "CLIENT_IPS_KEPT", 3)
    gateway_auth = GatewayAuth(AuthSettings(GATEWAY_SECRET=SECRET, GATEWAY_TRUSTED_PROXIES="127.0.0.1"))
    for i in range(10):
        assert gateway_auth._client_ip("127.0.0.1", [f"203.0.113.{i}"]) == f"203.0.113.{i}"
    long_chain = ", ".join(["203.0.113.9"] * 100)  # past FORWARDED_LENGTH_KEPT: answered, not kept
    assert gateway_auth._client_ip("127.0.0.1", [long_chain]) == "203.0.113.9"
    assert len(gateway_auth._client_ips) == 3 and ("127.0.0.1", (long_chain,)) not in gateway_auth._client_ips


# -- settings --------------------------------------------------------------------------
def test_auth_settings_defaults_and_production_rules():
    settings = load_auth()
    assert settings.cookie_secure is False and settings.trusted_proxies == ()
    with pytest.raises(ConfigError, match="GATEWAY_SECRET must be set in production"):
        load_auth(ENVIRONMENT="production")
    with pytest.raises(ConfigError, match="at least 32 characters"):
        load_auth(ENVIRONMENT="production", GATEWAY_SECRET="short")
    with pytest.raises(ConfigError, match="TOKEN_SECRET must be set in production"):
        load_auth(ENVIRONMENT="production", GATEWAY_SECRET=SECRET)
    production = load_auth(ENVIRONMENT="production", GATEWAY_SECRET=SECRET, TOKEN_SECRET="t" * 40)
    assert production.cookie_secure is True
    assert load_auth(GATEWAY_COOKIE_SECURE=True).cookie_secure is True
    assert DEV_GATEWAY_SECRET != SECRET


def test_bad_trusted_proxies_are_named():
    with pytest.raises(ConfigError, match="GATEWAY_TRUSTED_PROXIES.*'nope'"):
        load_auth(GATEWAY_TRUSTED_PROXIES="10.0.0.0/8, nope")
    assert [str(n) for n in load_auth(GATEWAY_TRUSTED_PROXIES="10.0.0.0/8,127.0.0.1").trusted_proxies] == [
        "10.0.0.0/8",
        "127.0.0.1/32",
    ]


# -- requests --------------------------------------------------------------------------
@pytest.fixture
def gateway_auth() -> GatewayAuth:
    return GatewayAuth(AuthSettings(GATEWAY_SECRET=SECRET, GATEWAY_TRUSTED_PROXIES="127.0.0.1"))


def test_a_new_client_gets_a_signed_httponly_guest_cookie(gateway_auth):
    response = Response()
    auth = gateway_auth.for_request(make_request(), response)
    assert auth.token is None and auth.source is None and auth.client_ip == "198.51.100.7"
    cookie = set_cookies(response)[GUEST_COOKIE][GUEST_COOKIE]
    assert read_guest_cookie(gateway_auth.signer, cookie.value) == auth.guest_id
    assert cookie["httponly"] and cookie["samesite"].lower() == "lax" and int(cookie["max-age"]) > 86400 * 300
    assert not cookie["secure"]  # development default: plain HTTP


@pytest.mark.parametrize("secure", [False, True])
def test_the_guest_cookie_header_is_the_one_starlette_writes(secure):
    gateway_auth = GatewayAuth(AuthSettings(GATEWAY_SECRET=SECRET, GATEWAY_COOKIE_SECURE=secure))
    ours, starlettes = Response(), Response()
    gateway_auth.set_guest_cookie(ours, "0123456789abcdef0123456789abcdef")
    starlettes.set_cookie(
        GUEST_COOKIE,
        guest_cookie_value(gateway_auth.signer, "0123456789abcdef0123456789abcdef"),
        max_age=400 * 86400,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    assert ours.raw_headers == starlettes.raw_headers
    assert (b"; Secure" in ours.raw_headers[-1][1]) is secure


def test_a_known_guest_keeps_its_id_and_a_tampered_one_gets_a_new_one(gateway_auth):
    value = guest_cookie_value(gateway_auth.signer, new_guest_id())
    response = Response()
    auth = gateway_auth.for_request(make_request(cookies={GUEST_COOKIE: value}), response)
    assert auth.guest_id == value.split(".")[0]
    assert GUEST_COOKIE not in set_cookies(response)

    forged = new_guest_id() + "." + value.split(".")[1]
    response = Response()
    auth = gateway_auth.for_request(make_request(cookies={GUEST_COOKIE: forged}), response)
    assert auth.guest_id != forged.split(".")[0]
    assert set_cookies(response)[GUEST_COOKIE][GUEST_COOKIE].value.startswith(auth.guest_id + ".")


@pytest.mark.parametrize(
    "headers, cookies",
    [({"Authorization": "Bearer tok-b"}, {}), ({}, {SESSION_COOKIE: "tok-c"})],
    ids=["bearer", "session cookie"],
)
def test_a_request_with_a_session_token_gets_no_guest_cookie(gateway_auth, headers, cookies):
    response = Response()
    auth = gateway_auth.for_request(make_request(headers, cookies), response)
    assert auth.token is not None and len(auth.guest_id) == 32
    assert GUEST_COOKIE not in set_cookies(response)

    # A malformed Authorization header carries no token: a guest as any other.
    response = Response()
    gateway_auth.for_request(make_request({"Authorization": "Basic x"}), response)
    assert GUEST_COOKIE in set_cookies(response)


def test_bearer_wins_over_the_session_cookie(gateway_auth):
    auth = gateway_auth.for_request(
        make_request({"Authorization": "Bearer tok-b"}, {SESSION_COOKIE: "tok-c"}), Response()
    )
    assert (auth.token, auth.source) == ("tok-b", Source.BEARER)
    gateway_auth.check_csrf(auth)  # bearer requests need no CSRF token

    auth = gateway_auth.for_request(make_request({"Authorization": "Basic x"}, {SESSION_COOKIE: "tok-c"}), Response())
    assert auth.token is None and isinstance(auth.authorization_error, Unauthenticated)


def test_cookie_sessions_need_the_csrf_header(gateway_auth):
    response = Response()
    auth = gateway_auth.for_request(make_request(cookies={SESSION_COOKIE: "tok-c"}), response)
    assert (auth.token, auth.source) == ("tok-c", Source.COOKIE)
    with pytest.raises(Forbidden, match="X-CSRF-Token"):
        gateway_auth.check_csrf(auth)
    # The missing CSRF cookie was handed out again, readable by the page's script.
    csrf = set_cookies(response)[CSRF_COOKIE][CSRF_COOKIE]
    assert csrf.value == csrf_token(gateway_auth.signer, "tok-c") and not csrf["httponly"]

    wrong = gateway_auth.for_request(
        make_request({"X-CSRF-Token": csrf_token(gateway_auth.signer, "other")}, {SESSION_COOKIE: "tok-c"}), Response()
    )
    with pytest.raises(Forbidden):
        gateway_auth.check_csrf(wrong)
    right = gateway_auth.for_request(
        make_request({"X-CSRF-Token": csrf.value}, {SESSION_COOKIE: "tok-c", CSRF_COOKIE: csrf.value}), Response()
    )
    gateway_auth.check_csrf(right)


def test_session_cookies_are_set_and_cleared(gateway_auth):
    response = Response()
    gateway_auth.set_session(response, "tok", "2999-01-01T00:00:00+00:00")
    cookies = set_cookies(response)
    session = cookies[SESSION_COOKIE][SESSION_COOKIE]
    assert session.value == "tok" and session["httponly"] and session["samesite"].lower() == "lax"
    assert int(session["max-age"]) > 0
    assert cookies[CSRF_COOKIE][CSRF_COOKIE].value == csrf_token(gateway_auth.signer, "tok")

    response = Response()
    gateway_auth.clear_session(response)
    cookies = set_cookies(response)
    assert cookies[SESSION_COOKIE][SESSION_COOKIE]["max-age"] == "0"
    assert cookies[CSRF_COOKIE][CSRF_COOKIE]["max-age"] == "0"


def test_forwarded_for_counts_only_from_a_trusted_proxy(gateway_auth):
    spoofed = gateway_auth.for_request(make_request({"X-Forwarded-For": "203.0.113.1"}), Response())
    assert spoofed.client_ip == "198.51.100.7"
    proxied = gateway_auth.for_request(make_request({"X-Forwarded-For": "203.0.113.1"}, peer="127.0.0.1"), Response())
    assert proxied.client_ip == "203.0.113.1"


def test_websockets_get_a_guest_id_but_no_cookie(gateway_auth):
    auth = gateway_auth.for_request(make_request(), response=object())
    assert len(auth.guest_id) == 32


def test_a_bad_auth_variable_stops_the_gateway_at_start(monkeypatch, capsys):
    from gateway.settings import load_or_exit

    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("GATEWAY_SECRET", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        load_or_exit()
    assert exit_info.value.code == 2
    assert "GATEWAY_SECRET must be set in production" in capsys.readouterr().err


# -- proxies in production -----------------------------------------------------------------
def _production(proxies: str = "") -> GatewayAuth:
    return GatewayAuth(
        AuthSettings(
            ENVIRONMENT="production", GATEWAY_SECRET="p" * 40, TOKEN_SECRET="t" * 40, GATEWAY_TRUSTED_PROXIES=proxies
        )
    )


def test_production_without_trusted_proxies_warns_at_start_and_at_the_first_forwarded_request(caplog):
    auth = _production()
    with caplog.at_level("WARNING", logger="gateway.auth"):
        auth.warn_if_untrusted_proxy_setup()
        scope = {"client": ("10.1.2.3", 5000), "headers": [(b"x-forwarded-for", b"203.0.113.9")]}
        assert auth.client_address(scope) == "10.1.2.3"  # not believed
        auth.client_address(scope)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2  # once at start, once (per process) for the forwarded request
    assert "GATEWAY_TRUSTED_PROXIES is empty in production" in messages[0]
    assert "10.1.2.3" in messages[1] and "X-Forwarded-For" in messages[1]

    caplog.clear()
    trusted = _production("10.0.0.0/8")
    with caplog.at_level("WARNING", logger="gateway.auth"):
        trusted.warn_if_untrusted_proxy_setup()
        assert trusted.client_address(scope) == "203.0.113.9"
    assert caplog.records == []
