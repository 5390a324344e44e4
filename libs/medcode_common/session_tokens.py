"""The session token, written and read in one place (medcode_contracts.accounts: HS256 with
TOKEN_SECRET, `sub` account, `jti` session, `iss`, `iat`, `exp`). The accounts service signs
tokens and reads them back; the gateway reads them to skip an RPC for a session it knows.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt

from medcode_contracts import accounts as contract
from medcode_contracts.errors import Unauthenticated

# One message for every way a token can be wrong: which way is nothing the caller needs.
BAD_TOKEN = "Your session is invalid or has expired: log in again."


@dataclass(frozen=True)
class SessionClaims:
    account_id: str
    session_id: str  # the token's jti
    expires_at: float  # epoch seconds


def encode_session_token(secret: str, claims: SessionClaims, *, issued_at: float) -> str:
    return jwt.encode(
        {
            "sub": claims.account_id,
            "jti": claims.session_id,
            "iss": contract.TOKEN_ISSUER,
            "iat": int(issued_at),
            "exp": int(claims.expires_at),
        },
        secret,
        algorithm=contract.TOKEN_ALGORITHM,
    )


def decode_session_token(token: str, secret: str, *, now: float, check_issued_at: bool = True) -> SessionClaims:
    """The claims of a well-signed token that has not expired at `now`, or Unauthenticated.

    The times are compared with `now` here rather than by PyJWT with the wall clock, so a
    caller with a clock of its own (a test's) checks the same thing as in production.
    `check_issued_at`: also refuse a token issued after `now`."""
    try:
        data = jwt.decode(
            token,
            secret,
            algorithms=[contract.TOKEN_ALGORITHM],
            issuer=contract.TOKEN_ISSUER,
            options={"require": list(contract.TOKEN_CLAIMS), "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        raise Unauthenticated(BAD_TOKEN) from None
    expires_at, issued_at = data["exp"], data["iat"]
    if not isinstance(expires_at, (int, float)) or expires_at <= now:
        raise Unauthenticated(BAD_TOKEN)
    if check_issued_at and (not isinstance(issued_at, (int, float)) or issued_at > now):
        raise Unauthenticated(BAD_TOKEN)
    return SessionClaims(account_id=str(data["sub"]), session_id=str(data["jti"]), expires_at=float(expires_at))
