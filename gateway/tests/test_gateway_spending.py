"""What may spend the meter (views, claim checks): only a POST that is either bearer-
authenticated, a guest's, or cookie-authenticated with its CSRF proof. And checkClaim is
metered: past the quota it keeps `clean` and the codes, and withholds the details. A fake
RPC client and real request contexts; every descriptor is made up."""

from __future__ import annotations

import pytest

from gateway.auth import CSRF_HEADER, GUEST_COOKIE, SESSION_COOKIE, csrf_token, guest_cookie_value
from gateway.context import CSRF_TO_SPEND, GET_SPENDS_NOTHING
from gateway.testing import (
    ACCOUNT,
    MADE_UP_PTP_FINDING,
    RequestFakeRpc,
    get_codes,
    made_up_claim_check,
    make_request,
    schema_context,
)
from gateway.testing import GUEST_ID as GUEST
from medcode_contracts.errors import Unavailable


def grant_all(request):
    return [{"resource": r, "granted": True, "remaining": 5, "limit": 10} for r in request["resources"]]


PAGE = (
    '{ a: code(system: ICD10CM, code: "K22.0") { access { granted reason } layTerms } '
    'b: code(system: HCPCS, code: "J9035") { access { granted } layTerms } '
    'c: code(system: HCPCS, code: "J9035") { access { granted } } }'
)
CLAIM = """query($input: ClaimInput!) { checkClaim(input: $input) {
  clean access { granted remaining limit reason } findings { kind codes lines message modifierAllowed source } } }"""
CLAIM_INPUT = {"input": {"lines": [{"code": "11042"}, {"code": "97597"}, {"code": "J9035", "units": 900}]}}
CLAIM_CHECK = made_up_claim_check(
    MADE_UP_PTP_FINDING,
    {
        "kind": "MUE",
        "codes": ["J9035"],
        "lines": [3],
        "message": "made-up: at most 7 units",
        "modifier_allowed": None,
        "source": "made-up MUE",
    },
)


def get_request(headers=None, cookies=None):
    return make_request(headers, cookies, method="GET")


def rpc(**extra) -> RequestFakeRpc:
    return RequestFakeRpc(
        {
            "codes.get_codes": get_codes,
            "metering.check_views": grant_all,
            "accounts.authenticate": ACCOUNT,
            "codes.check_claim": CLAIM_CHECK,
            "metering.check_claim": {"granted": True, "remaining": 9, "limit": 10},
            **extra,
        }
    )


async def run(schema, gateway_auth, query, fake, request, variables=None):
    context = schema_context(gateway_auth, fake, request)
    result = await schema.execute(query, context_value=context, variable_values=variables)
    return result.data, [e.formatted for e in result.errors or []]


def session(gateway_auth, csrf: bool) -> dict:
    headers = {CSRF_HEADER: csrf_token(gateway_auth.signer, "tok")} if csrf else {}
    return {"cookies": {SESSION_COOKIE: "tok"}, "headers": headers}


# -- a link spends nothing -------------------------------------------------------------
@pytest.mark.parametrize("who", ["guest", "cookie", "cookie+csrf", "bearer"])
async def test_a_get_request_spends_no_view(schema, gateway_auth, who):
    if who == "guest":
        request = get_request(cookies={GUEST_COOKIE: guest_cookie_value(gateway_auth.signer, GUEST)})
    elif who == "bearer":
        request = get_request(headers={"Authorization": "Bearer tok"})
    else:
        request = get_request(**session(gateway_auth, csrf=who == "cookie+csrf"))
    fake = rpc()
    data, errors = await run(schema, gateway_auth, PAGE, fake, request)
    assert errors == []
    assert fake.calls["metering.check_views"] == 0
    assert data["a"] == {"access": {"granted": False, "reason": GET_SPENDS_NOTHING}, "layTerms": None}
    assert data["b"]["access"]["granted"] is False and data["b"]["layTerms"] is None


async def test_a_cookie_without_its_csrf_proof_spends_no_view(schema, gateway_auth):
    fake = rpc()
    data, errors = await run(schema, gateway_auth, PAGE, fake, make_request(**session(gateway_auth, csrf=False)))
    assert errors == [] and fake.calls["metering.check_views"] == 0
    assert data["a"] == {"access": {"granted": False, "reason": CSRF_TO_SPEND}, "layTerms": None}
    forged = {"cookies": {SESSION_COOKIE: "tok"}, "headers": {CSRF_HEADER: "forged"}}
    data, _ = await run(schema, gateway_auth, PAGE, fake, make_request(**forged))
    assert data["a"]["access"]["granted"] is False and fake.calls["metering.check_views"] == 0


@pytest.mark.parametrize("credentials", ["cookie+csrf", "bearer", "guest"])
async def test_a_post_with_its_proof_spends(schema, gateway_auth, credentials):
    if credentials == "bearer":
        request = make_request(headers={"Authorization": "Bearer tok"})
    elif credentials == "guest":
        request = make_request(cookies={GUEST_COOKIE: guest_cookie_value(gateway_auth.signer, GUEST)})
    else:
        request = make_request(**session(gateway_auth, csrf=True))
    fake = rpc()
    data, errors = await run(schema, gateway_auth, PAGE, fake, request)
    assert errors == [] and fake.calls["metering.check_views"] == 1
    assert data["a"] == {"access": {"granted": True, "reason": None}, "layTerms": ["made-up"]}


# -- checkClaim is metered -----------------------------------------------------------------
async def test_a_granted_claim_check_shows_every_detail_and_counts_once(schema, gateway_auth):
    fake = rpc()
    data, errors = await run(
        schema, gateway_auth, CLAIM, fake, make_request(headers={"Authorization": "Bearer tok"}), CLAIM_INPUT
    )
    assert errors == []
    assert fake.sent("metering.check_claim") == [{"subject": "u-1", "plan": "FREE", "client_ip": None}]
    check = data["checkClaim"]
    assert check["access"] == {"granted": True, "remaining": 9, "limit": 10, "reason": None}
    assert [f["message"] for f in check["findings"]] == ["made-up rationale", "made-up: at most 7 units"]
    assert check["findings"][0]["modifierAllowed"] is True


REFUSED = "Guests can check 1 claim a day in full (made-up)."


@pytest.mark.parametrize("case", ["quota", "metering away", "get"])
async def test_past_the_quota_a_claim_check_keeps_clean_and_codes_and_withholds_details(schema, gateway_auth, case):
    cookies = {GUEST_COOKIE: guest_cookie_value(gateway_auth.signer, GUEST)}
    answer = {
        "quota": {"granted": False, "remaining": 0, "limit": 1, "reason": REFUSED},
        "metering away": Unavailable("metering did not answer"),
        "get": {"granted": True, "remaining": 0, "limit": 1},
    }[case]
    request = get_request(cookies=cookies) if case == "get" else make_request(cookies=cookies)
    fake = rpc(**{"metering.check_claim": answer})
    data, errors = await run(schema, gateway_auth, CLAIM, fake, request, CLAIM_INPUT)
    assert errors == []
    check = data["checkClaim"]
    assert check["clean"] is False and check["access"]["granted"] is False and check["access"]["reason"]
    assert [(f["kind"], f["codes"], f["lines"]) for f in check["findings"]] == [
        ("PTP", ["11042", "97597"], [1, 2]),
        ("MUE", ["J9035"], [3]),
    ]
    text = str(check)
    assert "rationale" not in text and "7 units" not in text
    assert all(f["modifierAllowed"] is None and f["message"] == check["access"]["reason"] for f in check["findings"])
    if case == "quota":
        assert check["access"] == {"granted": False, "remaining": 0, "limit": 1, "reason": REFUSED}
        assert fake.sent("metering.check_claim") == [{"subject": GUEST, "plan": "GUEST", "client_ip": "198.51.100.7"}]
    if case == "get":
        assert fake.calls["metering.check_claim"] == 0 and check["access"]["reason"] == GET_SPENDS_NOTHING


async def test_a_claim_the_service_refuses_costs_no_check(schema, gateway_auth):
    from medcode_contracts.errors import BadRequest

    fake = rpc(**{"codes.check_claim": BadRequest("lines.0.code: made-up refusal")})
    data, errors = await run(
        schema, gateway_auth, CLAIM, fake, make_request(headers={"Authorization": "Bearer tok"}), CLAIM_INPUT
    )
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert fake.calls["metering.check_claim"] == 0


# -- questions spend the meter too ------------------------------------------------------
ASK = 'mutation { ask(input: {question: "What is the MUE for J9035?"}) { text } }'


async def test_a_question_with_a_cookie_but_without_its_csrf_proof_reaches_no_service(schema, gateway_auth):
    fake = rpc(**{"assistant.ask": {"unused": True}})
    data, errors = await run(schema, gateway_auth, ASK, fake, make_request(**session(gateway_auth, csrf=False)))
    assert data is None and errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert fake.calls["assistant.ask"] == 0 and fake.calls["accounts.authenticate"] == 0
