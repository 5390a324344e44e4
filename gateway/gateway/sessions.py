"""Session tokens checked in the gateway, so a member's request costs no authenticate RPC.

The token is the accounts service's signed JWT (medcode_contracts.accounts: HS256 with
TOKEN_SECRET, `sub` account, `jti` session, `exp`). The gateway verifies its signature and
expiry itself: a forged, tampered or expired token is refused at once. The account behind
a session comes from `accounts.authenticate` the first time this process sees the session,
and is kept until the earliest of: the token's expiry, GATEWAY_SESSION_CACHE_SECONDS, and
an event that says the session or its account changed:

- `accounts.session_revoked` (logout) drops the session;
- `accounts.plan_changed`, `accounts.role_changed` and `accounts.user_deleted` drop every
  session of the user.

Fail safe: the cache is trusted only while the events can reach this process. When the
broker connection drops, everything kept is forgotten and every request asks accounts
again until the connection, and with it the event queues, are back. An answer that was
on its way while an event dropped something is not kept (`epoch`), so a revocation can
never be overwritten by a check that started before it.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from medcode_common.session_tokens import BAD_TOKEN, SessionClaims, decode_session_token
from medcode_contracts import accounts as contract
from medcode_contracts import events
from medcode_contracts.errors import Unauthenticated

log = logging.getLogger("gateway.sessions")

# Tokens whose signature this process has checked. Checking one is pure (the token and the
# secret decide), and PyJWT took a tenth of a member's request doing it again every time;
# the expiry is still compared with the clock on every request.
VERIFIED_TOKENS_KEPT = 10_000


@dataclass
class _Kept:
    account: contract.Account
    session_id: str
    until: float  # time.time() instant


class SessionCache:
    """Accounts of live sessions, per session id, for at most `max_age` seconds each."""

    def __init__(self, secret: str, *, max_age: float, max_size: int, clock: Callable[[], float] = time.time):
        self._secret = secret
        self.max_age = max_age
        self.max_size = max_size
        self._clock = clock
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        self._verified: OrderedDict[str, SessionClaims] = OrderedDict()
        self._by_user: dict[str, set[str]] = {}
        # Bumped by everything that drops entries: an answer fetched across a bump is not kept.
        self.epoch = 0
        # True only while the events that invalidate entries can arrive (see module doc).
        self.listening = False
        self.hits = 0
        self.misses = 0

    # -- the token -------------------------------------------------------------------------
    def verify(self, token: str) -> SessionClaims:
        """The claims of a well-signed, unexpired token, or Unauthenticated (as accounts would say)."""
        # The wall clock, not `self._clock` (which times only what is kept).
        now = time.time()
        claims = self._verified.get(token)
        if claims is None:
            claims = decode_session_token(token, self._secret, now=now)  # Unauthenticated: nothing kept
            self._verified[token] = claims
            if len(self._verified) > VERIFIED_TOKENS_KEPT:
                self._verified.popitem(last=False)
        elif claims.expires_at <= now:
            del self._verified[token]
            raise Unauthenticated(BAD_TOKEN)
        return claims

    # -- the accounts kept -----------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self.max_age > 0 and self.max_size > 0

    def get(self, claims: SessionClaims) -> contract.Account | None:
        if not (self.enabled and self.listening):
            return None
        kept = self._kept.get(claims.session_id)
        if kept is None or kept.until <= self._clock() or kept.account.id != claims.account_id:
            self.misses += 1
            return None
        self.hits += 1
        return kept.account

    def put(self, claims: SessionClaims, account: contract.Account, epoch: int) -> None:
        """Keep what accounts answered for `claims`, unless something was dropped since
        `epoch` (read it before asking accounts) or the events are not listened to."""
        if not (self.enabled and self.listening) or epoch != self.epoch or account.id != claims.account_id:
            return
        until = min(claims.expires_at, self._clock() + self.max_age)
        self._drop_session(claims.session_id)
        self._kept[claims.session_id] = _Kept(account, claims.session_id, until)
        self._by_user.setdefault(account.id, set()).add(claims.session_id)
        while len(self._kept) > self.max_size:
            self._drop_session(next(iter(self._kept)))

    def forget_session(self, session_id: str) -> None:
        self.epoch += 1
        self._drop_session(session_id)

    def forget_user(self, user_id: str) -> None:
        self.epoch += 1
        for session_id in self._by_user.pop(user_id, set()):
            self._kept.pop(session_id, None)

    def clear(self) -> None:
        self.epoch += 1
        self._kept.clear()
        self._by_user.clear()

    def __len__(self) -> int:
        return len(self._kept)

    def _drop_session(self, session_id: str) -> None:
        kept = self._kept.pop(session_id, None)
        if kept is not None:
            sessions = self._by_user.get(kept.account.id)
            if sessions is not None:
                sessions.discard(session_id)
                if not sessions:
                    del self._by_user[kept.account.id]

    # -- what the events say ----------------------------------------------------------------
    def on_session_revoked(self, payload: dict) -> None:
        event = events.SessionRevoked.model_validate(payload)
        if event.session_id is None:
            self.forget_user(event.user_id)
        else:
            self.forget_session(event.session_id)

    def on_account_changed(self, payload: dict) -> None:
        """plan_changed, role_changed, user_deleted: every session of the user is asked about again."""
        user_id = payload.get("user_id") if isinstance(payload, dict) else None
        if not isinstance(user_id, str):
            raise ValueError("the event names no user_id")
        self.forget_user(user_id)

    def stop_listening(self, _connection: object = None, exc: BaseException | None = None) -> None:
        """The broker connection is gone (aio-pika's close callback): events may be missed."""
        if self.listening and isinstance(exc, Exception):
            log.warning("broker connection lost: sessions are checked with accounts on every request until it is back")
        self.listening = False
        self.clear()

    def start_listening(self, *_args) -> None:
        """The event queues are (again) consuming: what is kept from now on will hear of changes."""
        self.clear()
        self.listening = True


# Events that drop kept sessions: (source, type, handler name).
SUBSCRIPTIONS = (
    (contract.SERVICE, contract.Events.SESSION_REVOKED, "on_session_revoked"),
    (contract.SERVICE, contract.Events.PLAN_CHANGED, "on_account_changed"),
    (contract.SERVICE, contract.Events.ROLE_CHANGED, "on_account_changed"),
    (contract.SERVICE, contract.Events.USER_DELETED, "on_account_changed"),
)
