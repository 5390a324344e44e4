"""Who is calling: session tokens, guest ids, CSRF and the client's address.

- Session: `Authorization: Bearer <token>` (scripts, partners) or, for the web app, the
  HttpOnly SameSite=Lax cookie `medcode_session` set by login/register. The token is the
  accounts service's signed JWT; the gateway checks it itself and asks
  `accounts.authenticate` only for a session it has not kept (gateway.sessions).
- CSRF: a mutation authenticated by the session cookie must carry `X-CSRF-Token`, whose
  value the web app reads from the (not HttpOnly) cookie `medcode_csrf`. The token is an
  HMAC of the session token ("signed double submit"), so another site can neither read
  nor forge it, and a cookie planted by a sibling domain does not match a session.
  Bearer requests are exempt: a browser never adds that header on its own.
- Guest id: a random id in the cookie `medcode_guest`, signed with HMAC-SHA256 so a
  client cannot choose someone else's id. A client without a valid one gets a new one
  on its first response; the metering service also caps guest views per client IP.
- Client IP: the TCP peer, or, when the peer is a configured trusted proxy, the
  nearest address in X-Forwarded-For that is not a trusted proxy. Only
  GATEWAY_TRUSTED_PROXIES decides that (uvicorn's own proxy handling is off, see
  gateway.__main__). An IPv6 client is keyed by its /64, the block one subscriber gets,
  since it can pick any of the 2**64 addresses in it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from cachetools import FIFOCache
from starlette.responses import Response
from strawberry.exceptions import ConnectionRejectionError

from medcode_contracts.accounts import MAX_TOKEN_LENGTH
from medcode_contracts.errors import Forbidden, PlatformError, Unauthenticated

from .settings import AuthSettings

log = logging.getLogger("gateway.auth")

SESSION_COOKIE = "medcode_session"
CSRF_COOKIE = "medcode_csrf"
GUEST_COOKIE = "medcode_guest"
CSRF_HEADER = "x-csrf-token"
# Browsers cap a cookie's lifetime at 400 days anyway.
GUEST_COOKIE_MAX_AGE = 400 * 86400
# GatewayAuth._client_ip: how many client addresses, of X-Forwarded-For values how long.
CLIENT_IPS_KEPT = 4096
FORWARDED_LENGTH_KEPT = 256
UNKNOWN_IP = "unknown"  # no peer address (some ASGI servers): all such guests share one cap

BAD_AUTHORIZATION = "The Authorization header must be `Bearer <token>`."
CSRF_REFUSED = (
    "This request is authenticated by a cookie, so it needs the X-CSRF-Token header "
    "(the value of the medcode_csrf cookie), or use Authorization: Bearer <token>."
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Source(str, Enum):
    BEARER = "bearer"
    COOKIE = "cookie"


# -- signatures --------------------------------------------------------------------------
# Signer.sign_kept: how many, of messages how long (a session token is ~300 characters; a
# longer one, say a made-up cookie, is signed each time instead of filling memory).
SIGNATURES_KEPT = 4096
SIGNED_LENGTH_KEPT = 512


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Signer:
    """HMAC-SHA256 with one key per purpose, derived from GATEWAY_SECRET, so a guest-id
    signature can never pass as a CSRF token or the other way round."""

    def __init__(self, secret: str):
        if not secret:
            raise ValueError("the gateway secret must not be empty")
        master = secret.encode()
        self._keys = {
            purpose: hmac.new(master, purpose.encode(), hashlib.sha256).digest() for purpose in ("guest-id", "csrf")
        }
        self._kept: FIFOCache[tuple[str, str], str] = FIFOCache(maxsize=SIGNATURES_KEPT)  # sign_kept's

    def sign(self, purpose: str, message: str) -> str:
        return _b64(hmac.digest(self._keys[purpose], message.encode(), "sha256"))

    def sign_kept(self, purpose: str, message: str) -> str:
        """sign(), remembered for the last SIGNATURES_KEPT messages (a session's CSRF token
        is asked for on every request of the session; the signature is pure)."""
        signature = self._kept.get((purpose, message))
        if signature is None:
            signature = self.sign(purpose, message)
            if len(message) <= SIGNED_LENGTH_KEPT:
                self._kept[(purpose, message)] = signature
        return signature

    def verify(self, purpose: str, message: str, signature: str) -> bool:
        return same_signature(self.sign(purpose, message), signature)


def same_signature(expected: str, given: str) -> bool:
    """In constant time: a timing difference must not tell how much of a forgery was right."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def new_guest_id() -> str:
    return secrets.token_hex(16)


def guest_cookie_value(signer: Signer, guest_id: str) -> str:
    return f"{guest_id}.{signer.sign('guest-id', guest_id)}"


def read_guest_cookie(signer: Signer, value: str | None) -> str | None:
    """The guest id of a well-signed cookie value, else None (missing, tampered, garbage)."""
    if not value or len(value) > 200:
        return None
    guest_id, dot, signature = value.partition(".")
    if not dot or len(guest_id) != 32 or any(c not in "0123456789abcdef" for c in guest_id):
        return None
    return guest_id if signer.verify("guest-id", guest_id, signature) else None


def csrf_token(signer: Signer, session_token: str) -> str:
    return signer.sign_kept("csrf", session_token)


def csrf_matches(signer: Signer, session_token: str, header: str | None) -> bool:
    return csrf_header_matches(csrf_token(signer, session_token), header)


def csrf_header_matches(expected: str | None, header: str | None) -> bool:
    """The request's CSRF header is the token its session expects (compared in constant time)."""
    if not expected or not header:
        return False
    return same_signature(expected, header)


# -- credentials and addresses ---------------------------------------------------------
def bearer_token(authorization: str | None) -> str | None:
    """The token of `Authorization: Bearer <token>`; None without the header;
    Unauthenticated when the header is there but is not a usable bearer token."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated(BAD_AUTHORIZATION)
    return token


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address, proxies: Sequence[Network]) -> bool:
    return any(address in network for network in proxies)


def client_key(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The address a client is counted as: IPv4 as is, IPv6 by its /64 (an IPv4-mapped
    IPv6 address as its IPv4 address)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def client_ip(peer: str | None, forwarded_for: Iterable[str], trusted_proxies: Sequence[Network]) -> str:
    """The address a guest's per-IP cap is counted against.

    X-Forwarded-For is believed only when the TCP peer is a trusted proxy, and then only
    up to the first hop that is not one: every proxy appends the address it saw, so the
    entries left of an untrusted hop are whatever the client chose to send. An entry
    that is not an IP address ends the walk at the proxy that passed it on, which only
    ever puts a client under a shared (stricter) cap, never a fresh one.
    """
    address = _ip(peer) if peer else None
    if address is None:
        return UNKNOWN_IP
    if not _trusted(address, trusted_proxies):
        return client_key(address)
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        hop_address = _ip(hop)
        if hop_address is None:
            break
        address = hop_address
        if not _trusted(address, trusted_proxies):
            break
    return client_key(address)


# -- one request -------------------------------------------------------------------------
@dataclass
class RequestAuth:
    """What a request says about its caller; nothing is checked with a service yet."""

    token: str | None
    source: Source | None
    guest_id: str
    client_ip: str
    csrf_header: str | None = None
    authorization_error: Unauthenticated | None = None  # a malformed Authorization header
    # (token, its CSRF token): the HMAC once per request, not once per spending field.
    _csrf_of: tuple[str, str] | None = field(default=None, repr=False, compare=False)

    @property
    def cookie_authenticated(self) -> bool:
        return self.source is Source.COOKIE

    def expected_csrf(self, signer: Signer) -> str | None:
        """The CSRF token of this request's session token (None without one)."""
        if self.token is None:
            return None
        if self._csrf_of is None or self._csrf_of[0] != self.token:  # a websocket may set its token later
            self._csrf_of = (self.token, csrf_token(signer, self.token))
        return self._csrf_of[1]


def _cookie_expiry(expires_at: str) -> int:
    """Seconds until an ISO-8601 instant (0 when past or unreadable)."""
    try:
        when = datetime.fromisoformat(expires_at)
    except (TypeError, ValueError):
        return 0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, int((when - datetime.now(UTC)).total_seconds()))


class GatewayAuth:
    """The gateway's auth configuration, and the cookie and header handling of requests."""

    def __init__(self, settings: AuthSettings):
        self.settings = settings
        self.signer = Signer(settings.GATEWAY_SECRET)
        self.trusted_proxies = settings.trusted_proxies
        self.secure = settings.cookie_secure
        self._warned_untrusted_proxy = False
        self._client_ips: FIFOCache[tuple[str | None, tuple[str, ...]], str] = FIFOCache(maxsize=CLIENT_IPS_KEPT)
        self._guest_cookie_around = self._guest_cookie_header_around()

    # -- the client's address ------------------------------------------------------------
    def client_address(self, scope: dict) -> str:
        """client_ip of a raw ASGI scope (for middleware that runs before any Request)."""
        client = scope.get("client")
        peer = client[0] if client else None
        forwarded = [value.decode("latin-1") for key, value in scope.get("headers", ()) if key == b"x-forwarded-for"]
        self._notice_untrusted_proxy(peer, forwarded)
        return self._client_ip(peer, forwarded)

    def _client_ip(self, peer: str | None, forwarded: list[str]) -> str:
        """client_ip, remembered for the last CLIENT_IPS_KEPT (peer, X-Forwarded-For) pairs:
        parsing the addresses again was a few percent of a page (and the rate limit asks too)."""
        key = (peer, tuple(forwarded))
        address = self._client_ips.get(key)
        if address is None:
            address = client_ip(peer, forwarded, self.trusted_proxies)
            if sum(map(len, forwarded)) <= FORWARDED_LENGTH_KEPT:
                self._client_ips[key] = address
        return address

    def warn_if_untrusted_proxy_setup(self) -> None:
        """At start: production without trusted proxies counts every client behind an
        ingress as the ingress's one address (one shared guest cap, one rate limit)."""
        if self.settings.ENVIRONMENT.value == "production" and not self.trusted_proxies:
            log.warning(
                "GATEWAY_TRUSTED_PROXIES is empty in production: if the gateway runs behind an "
                "ingress or load balancer, every client counts as that proxy's address "
                "(one guest cap and rate limit for all). Set it to the proxy's network."
            )

    def _notice_untrusted_proxy(self, peer: str | None, forwarded: list[str]) -> None:
        # Once per process: requests with X-Forwarded-For from a peer that is not trusted
        # mean a proxy in front that nobody configured (or a client trying its luck).
        if forwarded and not self._warned_untrusted_proxy and self.settings.ENVIRONMENT.value == "production":
            address = _ip(peer) if peer else None
            if address is not None and not _trusted(address, self.trusted_proxies):
                self._warned_untrusted_proxy = True
                log.warning(
                    "a request from %s carries X-Forwarded-For, but %s is not in GATEWAY_TRUSTED_PROXIES: "
                    "if it is your ingress, add its network there",
                    peer,
                    peer,
                )

    # -- reading a request -------------------------------------------------------------
    def for_request(self, request: Any, response: Any = None) -> RequestAuth:
        """Reads the caller's credentials from `request` (a starlette Request or
        WebSocket). A client without a valid guest cookie gets a new guest id, and, unless
        it sends a session token, the cookie is set on `response` when there is one to set it on."""
        headers, cookies = request.headers, request.cookies
        authorization_error = None
        try:
            token = bearer_token(headers.get("authorization"))
        except Unauthenticated as exc:
            token, authorization_error = None, exc
        source = Source.BEARER if token else None
        if token is None and authorization_error is None:
            cookie_token = cookies.get(SESSION_COOKIE)
            if cookie_token and len(cookie_token) <= MAX_TOKEN_LENGTH:
                token, source = cookie_token, Source.COOKIE
        guest_id = read_guest_cookie(self.signer, cookies.get(GUEST_COOKIE))
        if guest_id is None:
            guest_id = new_guest_id()
            # A request with a session token is metered as its account: no cookie to sign
            # and send (a dead token is cleared, and the next request is a guest's).
            if token is None and _can_set_cookies(response):
                self.set_guest_cookie(response, guest_id)
        peer = request.client.host if request.client else None
        auth = RequestAuth(
            token=token,
            source=source,
            guest_id=guest_id,
            client_ip=self._client_ip(peer, headers.getlist("x-forwarded-for")),
            csrf_header=headers.get(CSRF_HEADER),
            authorization_error=authorization_error,
        )
        if (
            source is Source.COOKIE
            and token is not None
            and _can_set_cookies(response)
            and cookies.get(CSRF_COOKIE) != auth.expected_csrf(self.signer)
        ):
            # The web app lost (or never got) the CSRF cookie of its session: hand it again.
            self._set_csrf_cookie(response, token, None)
        return auth

    def check_csrf(self, auth: RequestAuth) -> None:
        """Forbidden unless a cookie-authenticated request carries its CSRF token."""
        if not self.csrf_ok(auth):
            raise Forbidden(CSRF_REFUSED)

    def csrf_ok(self, auth: RequestAuth) -> bool:
        """True unless the request is cookie-authenticated without its CSRF token."""
        return not auth.cookie_authenticated or csrf_header_matches(auth.expected_csrf(self.signer), auth.csrf_header)

    # -- cookies -------------------------------------------------------------------------
    def _set_cookie(self, response: Any, name: str, value: str, max_age: int | None, httponly: bool = True) -> None:
        """Every cookie of the gateway: for the whole site, Secure behind HTTPS, SameSite=Lax."""
        response.set_cookie(
            name, value, max_age=max_age, path="/", secure=self.secure, httponly=httponly, samesite="lax"
        )

    def set_guest_cookie(self, response: Any, guest_id: str) -> None:
        # Every cookie-less request sets one: Starlette's header, made once, around the value.
        before, after = self._guest_cookie_around
        value = guest_cookie_value(self.signer, guest_id).encode()
        response.raw_headers.append((b"set-cookie", before + value + after))

    def _guest_cookie_header_around(self) -> tuple[bytes, bytes]:
        """The guest cookie's Set-Cookie header as Starlette writes it, before and after the
        value (hex and base64url: a guest cookie's value is never quoted)."""
        probe = Response()
        self._set_cookie(probe, GUEST_COOKIE, "VALUE", GUEST_COOKIE_MAX_AGE)
        before, _, after = probe.raw_headers[-1][1].partition(b"=VALUE")
        return before + b"=", after

    def set_session(self, response: Any, token: str, expires_at: str) -> None:
        """After login or register: the HttpOnly session cookie and its CSRF cookie."""
        if not _can_set_cookies(response):
            return
        max_age = _cookie_expiry(expires_at)
        self._set_cookie(response, SESSION_COOKIE, token, max_age)
        self._set_csrf_cookie(response, token, max_age)

    def clear_session(self, response: Any) -> None:
        if not _can_set_cookies(response):
            return
        response.delete_cookie(SESSION_COOKIE, path="/", secure=self.secure, httponly=True, samesite="lax")
        response.delete_cookie(CSRF_COOKIE, path="/", secure=self.secure, httponly=False, samesite="lax")

    def _set_csrf_cookie(self, response: Any, token: str, max_age: int | None) -> None:
        # Readable by the web app's script (not HttpOnly): that is how it learns the token.
        self._set_cookie(response, CSRF_COOKIE, csrf_token(self.signer, token), max_age, httponly=False)


async def connection_auth(context: Any) -> None:
    """A websocket's credentials come in connection_init's payload: `Authorization:
    Bearer <token>` (scripts) or, from the web app whose session cookie came with the
    handshake, `X-CSRF-Token`. A token there is checked at once; a bad one closes the
    connection (4403). Without either, the connection is a guest's, as over HTTP."""
    params = getattr(context, "connection_params", None)
    params = params if isinstance(params, dict) else {}
    lowered = {str(k).lower(): v for k, v in params.items()}
    auth = context.auth
    authorization = lowered.get("authorization")
    csrf = lowered.get("x-csrf-token") or lowered.get("csrftoken")
    try:
        if isinstance(authorization, str):
            auth.token, auth.source, auth.authorization_error = bearer_token(authorization), Source.BEARER, None
        if isinstance(csrf, str):
            auth.csrf_header = csrf
        if auth.authorization_error is not None:
            raise auth.authorization_error
        if auth.cookie_authenticated and not context.gateway_auth.csrf_ok(auth):
            raise ConnectionRejectionError({"message": "A session cookie needs X-CSRF-Token in connection_init."})
        if auth.token is not None:
            await context.account()
    except PlatformError as exc:
        raise ConnectionRejectionError({"message": str(exc), "code": exc.code}) from None


def _can_set_cookies(response: Any) -> bool:
    """HTTP responses can; a websocket (subscriptions) cannot."""
    return response is not None and hasattr(response, "set_cookie") and hasattr(response, "delete_cookie")
