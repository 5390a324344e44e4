import jwt
import pytest

from medcode_common.session_tokens import BAD_TOKEN, SessionClaims, decode_session_token, encode_session_token
from medcode_contracts import accounts
from medcode_contracts.errors import Unauthenticated

SECRET = "s" * 40
NOW = 1_750_000_000.0
CLAIMS = SessionClaims("acc-1", "session-1", expires_at=NOW + 3600)


def test_a_token_reads_back_as_it_was_signed():
    token = encode_session_token(SECRET, CLAIMS, issued_at=NOW)
    assert decode_session_token(token, SECRET, now=NOW) == CLAIMS


def test_expiry_is_checked_against_the_time_given_not_the_wall_clock():
    token = encode_session_token(SECRET, CLAIMS, issued_at=NOW)
    assert decode_session_token(token, SECRET, now=CLAIMS.expires_at - 1) == CLAIMS
    with pytest.raises(Unauthenticated, match="log in again"):
        decode_session_token(token, SECRET, now=CLAIMS.expires_at)


def test_a_token_issued_after_now_is_refused_unless_asked_not_to_check():
    token = encode_session_token(SECRET, CLAIMS, issued_at=NOW + 10)
    with pytest.raises(Unauthenticated):
        decode_session_token(token, SECRET, now=NOW)
    assert decode_session_token(token, SECRET, now=NOW, check_issued_at=False) == CLAIMS


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-jwt",
        encode_session_token("another secret " * 3, CLAIMS, issued_at=NOW),
        # well signed, but missing a claim, from another issuer, or with an expiry that is no number
        jwt.encode({"sub": "acc-1", "iss": accounts.TOKEN_ISSUER, "iat": NOW, "exp": NOW + 60}, SECRET),
        jwt.encode({"sub": "a", "jti": "s", "iss": "someone", "iat": NOW, "exp": NOW + 60}, SECRET),
        jwt.encode({"sub": "a", "jti": "s", "iss": accounts.TOKEN_ISSUER, "iat": NOW, "exp": "later"}, SECRET),
    ],
)
def test_every_bad_token_gets_the_same_answer(token):
    with pytest.raises(Unauthenticated) as refused:
        decode_session_token(token, SECRET, now=NOW)
    assert refused.value.message == BAD_TOKEN
