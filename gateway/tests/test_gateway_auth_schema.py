"""Accounts and metering resolvers with a fake RPC client and a real request context:
one authenticate per request, one check_views per request, premium fields nulled when
refused, CSRF on cookie mutations, register's carry-over. Descriptors are made up."""

from __future__ import annotations

import pytest
from starlette.responses import Response

from gateway.auth import CSRF_COOKIE, GUEST_COOKIE, SESSION_COOKIE, csrf_token, guest_cookie_value
from gateway.testing import ACCOUNT, RequestFakeRpc, get_codes, make_request, schema_context, set_cookies
from gateway.testing import GUEST_ID as GUEST
from gateway.testing import MADE_UP_PAGES as PAGES
from gateway.testing import made_up_page as page
from medcode_contracts.errors import Unauthenticated, Unavailable


def grant_first(limit: int):
    """check_views of a fresh subject with `limit` views."""

    def answer(request):
        out = []
        for i, resource in enumerate(request["resources"]):
            granted = i < limit
            out.append(
                {
                    "resource": resource,
                    "granted": granted,
                    "limit": limit,
                    "remaining": max(0, limit - i - 1) if granted else 0,
                    "reason": None if granted else "Made-up: register to get more views.",
                }
            )
        return out

    return answer


def rpc(**extra) -> RequestFakeRpc:
    return RequestFakeRpc(
        {
            "codes.get_codes": get_codes,
            "metering.check_views": grant_first(1),
            "accounts.authenticate": ACCOUNT,
            **extra,
        }
    )


async def run(schema, gateway_auth, query, fake, headers=None, cookies=None, response=None):
    context = schema_context(gateway_auth, fake, make_request(headers, cookies), response)
    result = await schema.execute(query, context_value=context)
    return result.data, [e.formatted for e in result.errors or []]


async def run_with_response(schema, gateway_auth, query, fake, **request) -> tuple[dict | None, list, Response]:
    """run(), also returning the response whose cookies the resolvers set."""
    response = Response()
    data, errors = await run(schema, gateway_auth, query, fake, response=response, **request)
    return data, errors, response


def cookie_session(gateway_auth, token: str) -> dict:
    """run()'s cookies and headers for a browser signed in by cookie: the session and its CSRF token."""
    return {"cookies": {SESSION_COOKIE: token}, "headers": {"X-CSRF-Token": csrf_token(gateway_auth.signer, token)}}


def session_cookie_cleared(response: Response) -> bool:
    """The response tells the browser to drop its session cookie."""
    return set_cookies(response)[SESSION_COOKIE][SESSION_COOKIE]["max-age"] == "0"


# What accounts.authenticate answers for a token that has expired.
EXPIRED_SESSION = {"accounts.authenticate": Unauthenticated("Your session has expired: log in again.")}
K22_ACCESS = '{ code(system: ICD10CM, code: "K22.0") { code access { granted } } }'


def guest_cookie(gateway_auth) -> dict:
    return {GUEST_COOKIE: guest_cookie_value(gateway_auth.signer, GUEST)}


PREMIUM = (
    "layTerms notes { includes } parent { code } children { code } ptpEdits { column1 } mue { maxUnits } "
    "crosswalks { kind } coverage { ncds { number } documents { documentId } } codeEdits { edit message }"
)


async def test_all_code_fields_make_one_check_views_for_the_distinct_known_codes(schema, gateway_auth):
    fake = rpc()
    data, errors = await run(
        schema,
        gateway_auth,
        f"""{{
      a: code(system: ICD10CM, code: "K22.0") {{ code access {{ granted remaining limit reason }} layTerms }}
      b: code(system: HCPCS, code: "J9035") {{ code access {{ granted remaining limit reason }} {PREMIUM} }}
      c: code(system: ICD10CM, code: "k220") {{ code access {{ granted }} }}
      missing: code(system: ICD10CM, code: "Q99.999") {{ code }} }}""",
        fake,
        cookies=guest_cookie(gateway_auth),
    )
    assert errors == []
    assert fake.calls["metering.check_views"] == 1 and fake.calls["accounts.authenticate"] == 0
    [request] = fake.sent("metering.check_views")
    assert request == {
        "subject": GUEST,
        "plan": "GUEST",
        "resources": ["ICD10CM:K22.0", "HCPCS:J9035"],
        "client_ip": "198.51.100.7",
    }
    assert data["a"]["access"] == {"granted": True, "remaining": 0, "limit": 1, "reason": None}
    assert data["a"]["layTerms"] == ["made-up"]
    assert data["c"]["access"] == {"granted": True}
    assert data["b"]["access"] == {
        "granted": False,
        "remaining": 0,
        "limit": 1,
        "reason": "Made-up: register to get more views.",
    }
    # Every premium section of the refused page is null, and none of them ran an RPC.
    assert {k: v for k, v in data["b"].items() if k not in ("code", "access")} == {
        "layTerms": None,
        "notes": None,
        "parent": None,
        "children": None,
        "ptpEdits": None,
        "mue": None,
        "crosswalks": None,
        "coverage": None,
        "codeEdits": None,
    }
    assert data["missing"] is None
    assert "codes.get_code_rules" not in fake.calls


async def test_refused_page_runs_no_premium_resolver(schema, gateway_auth):
    fake = rpc(**{"metering.check_views": grant_first(0)})
    data, errors = await run(
        schema,
        gateway_auth,
        '{ code(system: HCPCS, code: "J9035") { ptpEdits { column1 } mue { maxUnits } } }',
        fake,
        cookies=guest_cookie(gateway_auth),
    )
    assert errors == [] and data == {"code": {"ptpEdits": None, "mue": None}}
    assert set(fake.calls) == {"codes.get_codes", "metering.check_views"}


RULES = {
    "system": "HCPCS",
    "code": "J9035",
    "known": True,
    "coverage": {
        "ncds": [{"number": "190.99", "title": "Made-up NCD", "source": "made-up.csv"}],
        "documents": [],
        "documents_total": 0,
    },
    "code_edits": [
        {"edit": "MADE_UP", "number": "0", "title": "Made-up edit", "message": "made up", "source": "made-up.txt"}
    ],
}


@pytest.mark.parametrize("views, granted", [(1, True), (0, False)])
async def test_coverage_and_code_edits_are_premium_and_the_description_is_for_everyone(
    schema, gateway_auth, views, granted
):
    described = dict(page("HCPCS", "J9035"), description=[{"text": "Made-up sentence.", "source": "made-up.csv"}])
    fake = rpc(
        **{
            "metering.check_views": grant_first(views),
            "codes.get_codes": lambda request: [described],
            "codes.get_code_rules": lambda request: [RULES],
        }
    )
    data, errors = await run(
        schema,
        gateway_auth,
        '{ code(system: HCPCS, code: "J9035") { access { granted } '
        "description { text sentences { text source } } "
        "coverage { ncds { number title } } codeEdits { edit } } }",
        fake,
        cookies=guest_cookie(gateway_auth),
    )
    assert errors == []
    page_ = data["code"]
    assert page_["access"]["granted"] is granted
    # The description is shown like the descriptor, whatever the meter says.
    assert page_["description"] == {
        "text": "Made-up sentence.",
        "sentences": [{"text": "Made-up sentence.", "source": "made-up.csv"}],
    }
    if granted:
        assert page_["coverage"] == {"ncds": [{"number": "190.99", "title": "Made-up NCD"}]}
        assert page_["codeEdits"] == [{"edit": "MADE_UP"}]
    else:  # once the quota is spent: withheld like every premium section, and no rules RPC ran
        assert page_["coverage"] is None and page_["codeEdits"] is None
        assert "codes.get_code_rules" not in fake.calls


async def test_search_is_not_metered(schema, gateway_auth):
    fake = rpc(
        **{
            "codes.search_codes": {
                "total_count": 0,
                "hits": [],
                "has_next_page": False,
                "end_cursor": None,
                "facets": [],
            }
        }
    )
    data, errors = await run(schema, gateway_auth, '{ searchCodes(query: "x") { totalCount } }', fake)
    assert errors == [] and set(fake.calls) == {"codes.search_codes"}


async def test_one_authenticate_per_request_and_the_user_is_metered(schema, gateway_auth):
    fake = rpc(**{"metering.get_meter": {"plan": "FREE", "limit": 6, "used": 2, "remaining": 4}})
    data, errors = await run(
        schema,
        gateway_auth,
        """{
      viewer { account { id email name plan role } meter { plan limit used remaining } }
      a: code(system: ICD10CM, code: "K22.0") { code layTerms }
      b: code(system: HCPCS, code: "J9035") { code layTerms } }""",
        fake,
        headers={"Authorization": "Bearer tok"},
    )
    assert errors == []
    assert fake.calls["accounts.authenticate"] == 1 and fake.calls["metering.check_views"] == 1
    assert fake.sent("accounts.authenticate") == [{"token": "tok"}]
    assert fake.sent("metering.check_views")[0]["subject"] == "u-1"
    assert fake.sent("metering.check_views")[0]["plan"] == "FREE"
    assert data["viewer"] == {
        "account": {"id": "u-1", "email": "ann@example.org", "name": "Ann", "plan": "FREE", "role": "MEMBER"},
        "meter": {"plan": "FREE", "limit": 6, "used": 2, "remaining": 4},
    }


async def test_guest_viewer(schema, gateway_auth):
    fake = rpc(**{"metering.get_meter": {"plan": "GUEST", "limit": 1, "used": 0, "remaining": 1}})
    data, errors = await run(
        schema,
        gateway_auth,
        "{ viewer { account { id } meter { plan used remaining } } }",
        fake,
        cookies=guest_cookie(gateway_auth),
    )
    assert errors == [] and data["viewer"] == {"account": None, "meter": {"plan": "GUEST", "used": 0, "remaining": 1}}
    assert fake.sent("metering.get_meter") == [{"subject": GUEST, "plan": "GUEST", "client_ip": "198.51.100.7"}]


async def test_a_dead_session_cookie_is_unauthenticated_and_cleared(schema, gateway_auth):
    fake = rpc(**{"accounts.authenticate": Unauthenticated("Your session is invalid or has expired: log in again.")})
    data, errors, response = await run_with_response(
        schema, gateway_auth, '{ code(system: HCPCS, code: "J9035") { code } }', fake, cookies={SESSION_COOKIE: "dead"}
    )
    assert data == {"code": None} and errors[0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert session_cookie_cleared(response)


async def test_register_carries_the_guest_over_and_sets_the_session(schema, gateway_auth):
    fake = rpc(
        **{
            "accounts.register": {"token": "tok-new", "expires_at": "2999-01-01T00:00:00+00:00", "account": ACCOUNT},
            "metering.carry_over": {"plan": "FREE", "limit": 6, "used": 1, "remaining": 5},
        }
    )
    data, errors, response = await run_with_response(
        schema,
        gateway_auth,
        """mutation { register(input:
        {email: "Ann@Example.org", password: "long enough", name: "Ann"}) { token account { id role } } }""",
        fake,
        cookies=guest_cookie(gateway_auth),
    )
    assert errors == []
    assert data["register"] == {"token": "tok-new", "account": {"id": "u-1", "role": "MEMBER"}}
    assert fake.sent("accounts.register") == [
        {
            "email": "Ann@Example.org",
            "password": "long enough",
            "name": "Ann",
            "role": "MEMBER",
            "guest_id": GUEST,
            "client_ip": "198.51.100.7",
        }
    ]
    assert fake.sent("metering.carry_over") == [{"guest_id": GUEST, "user_id": "u-1"}]
    cookies = set_cookies(response)
    assert cookies[SESSION_COOKIE][SESSION_COOKIE].value == "tok-new"
    assert cookies[CSRF_COOKIE][CSRF_COOKIE].value == csrf_token(gateway_auth.signer, "tok-new")


async def test_register_succeeds_when_the_carry_over_must_wait(schema, gateway_auth):
    fake = rpc(
        **{
            "accounts.register": {"token": "t", "expires_at": "2999-01-01T00:00:00+00:00", "account": ACCOUNT},
            "metering.carry_over": Unavailable("the metering service did not answer carry_over within 2 s"),
        }
    )
    data, errors = await run(
        schema,
        gateway_auth,
        """mutation { register(input:
        {email: "a@example.org", password: "long enough", name: "A"}) { token } }""",
        fake,
    )
    assert errors == [] and data == {"register": {"token": "t"}}


async def test_bad_register_input_costs_no_rpc(schema, gateway_auth):
    fake = rpc()
    data, errors = await run(
        schema,
        gateway_auth,
        """mutation { register(input:
        {email: "a@example.org", password: "", name: "A"}) { token } }""",
        fake,
    )
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"} and "password" in errors[0]["message"]
    assert fake.requests == []


MUTATION = 'mutation { setPlan(accountId: "u-2", plan: PRO) { id plan } }'


async def test_cookie_mutation_without_csrf_is_refused_before_any_rpc(schema, gateway_auth):
    fake = rpc(**{"accounts.set_plan": {**ACCOUNT, "id": "u-2", "plan": "PRO"}})
    data, errors = await run(schema, gateway_auth, MUTATION, fake, cookies={SESSION_COOKIE: "tok"})
    assert data is None and errors[0]["extensions"] == {"code": "FORBIDDEN"}
    assert "X-CSRF-Token" in errors[0]["message"] and fake.requests == []

    data, errors = await run(schema, gateway_auth, MUTATION, fake, **cookie_session(gateway_auth, "tok"))
    assert errors == [] and data == {"setPlan": {"id": "u-2", "plan": "PRO"}}
    assert fake.sent("accounts.set_plan") == [{"token": "tok", "account_id": "u-2", "plan": "PRO"}]


async def test_bearer_mutation_needs_no_csrf(schema, gateway_auth):
    fake = rpc(**{"accounts.set_plan": {**ACCOUNT, "id": "u-2", "plan": "PRO"}})
    data, errors = await run(schema, gateway_auth, MUTATION, fake, headers={"Authorization": "Bearer tok"})
    assert errors == []


async def test_set_plan_and_delete_need_an_account(schema, gateway_auth):
    for mutation in (MUTATION, "mutation { deleteAccount }"):
        data, errors = await run(schema, gateway_auth, mutation, rpc())
        assert errors[0]["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_logout_revokes_and_clears_cookies(schema, gateway_auth):
    fake = rpc(**{"accounts.logout": True})
    data, errors, response = await run_with_response(
        schema, gateway_auth, "mutation { logout }", fake, **cookie_session(gateway_auth, "tok")
    )
    assert errors == [] and data == {"logout": True}
    assert fake.sent("accounts.logout") == [{"token": "tok"}]
    assert session_cookie_cleared(response)

    data, errors = await run(schema, gateway_auth, "mutation { logout }", fake, cookies={SESSION_COOKIE: "tok"})
    assert errors[0]["extensions"] == {"code": "FORBIDDEN"}


async def test_delete_own_account_clears_the_session(schema, gateway_auth):
    fake = rpc(**{"accounts.delete_account": True})
    data, errors, response = await run_with_response(
        schema, gateway_auth, "mutation { deleteAccount }", fake, headers={"Authorization": "Bearer tok"}
    )
    assert errors == [] and data == {"deleteAccount": True}
    assert fake.sent("accounts.delete_account") == [{"token": "tok", "account_id": "u-1"}]
    assert session_cookie_cleared(response)


async def test_malformed_authorization_is_an_error_not_a_guest(schema, gateway_auth):
    data, errors = await run(
        schema, gateway_auth, "{ viewer { account { id } } }", rpc(), headers={"Authorization": "Basic abc"}
    )
    assert errors[0]["extensions"] == {"code": "UNAUTHENTICATED"} and "Bearer" in errors[0]["message"]


def test_account_type_exposes_no_secret(schema):
    fields = set(schema._schema.type_map["Account"].fields)
    assert fields == {"id", "email", "name", "plan", "role"}


async def test_a_members_code_page_authenticates_while_the_page_loads(schema, gateway_auth):
    """authenticate and get_codes are in flight together; the meter is asked after both."""
    import asyncio

    in_flight: set[str] = set()
    overlapped = []

    def slow(target, answer):
        async def call(request):
            in_flight.add(target)
            await asyncio.sleep(0.01)
            overlapped.append(set(in_flight))
            in_flight.discard(target)
            return answer(request) if callable(answer) else answer

        return call

    class AsyncAnswers(RequestFakeRpc):
        async def call(self, service, method, **kwargs):
            result = await super().call(service, method, **kwargs)
            return await result if asyncio.iscoroutine(result) else result

    fake = AsyncAnswers(
        {
            "codes.get_codes": slow("codes.get_codes", get_codes),
            "accounts.authenticate": slow("accounts.authenticate", ACCOUNT),
            "metering.check_views": grant_first(6),
        }
    )
    data, errors = await run(schema, gateway_auth, K22_ACCESS, fake, headers={"Authorization": "Bearer tok"})
    assert errors == [] and data["code"] == {"code": "K22.0", "access": {"granted": True}}
    assert {"codes.get_codes", "accounts.authenticate"} in overlapped
    assert [name for name, _ in fake.requests][-1] == "metering.check_views"


async def test_a_prefetched_failed_login_still_reports_unauthenticated(schema, gateway_auth):
    fake = rpc(**EXPIRED_SESSION)
    data, errors = await run(schema, gateway_auth, K22_ACCESS, fake, headers={"Authorization": "Bearer expired"})
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert fake.calls["metering.check_views"] == 0


async def test_metering_away_shows_the_descriptor_and_withholds_the_premium_part(schema, gateway_auth):
    fake = rpc(**{"metering.check_views": Unavailable("the metering service did not answer check_views within 5 s")})
    data, errors = await run(
        schema,
        gateway_auth,
        '{ code(system: ICD10CM, code: "K22.0") { code title access { granted reason } layTerms } }',
        fake,
        cookies=guest_cookie(gateway_auth),
    )
    assert errors == []
    page = data["code"]
    assert page["title"] == "Made-up title of K22.0" and page["layTerms"] is None
    assert page["access"]["granted"] is False and "cannot be counted right now" in page["access"]["reason"]


async def test_a_bad_token_is_still_an_error_not_a_gated_page(schema, gateway_auth):
    fake = rpc(**EXPIRED_SESSION)
    _, errors = await run(
        schema,
        gateway_auth,
        '{ code(system: ICD10CM, code: "K22.0") { code } }',
        fake,
        headers={"Authorization": "Bearer old"},
    )
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


class OneViewMeter:
    """check_views of a guest with one view a day, remembered across requests (like
    metering): the first page it spends stays open, every other one is refused."""

    def __init__(self):
        self.seen: list[str] = []

    def __call__(self, request):
        out = []
        for resource in request["resources"]:
            if not self.seen:
                self.seen.append(resource)
            granted = resource in self.seen
            out.append(
                {
                    "resource": resource,
                    "granted": granted,
                    "limit": 1,
                    "remaining": 0,
                    "reason": None if granted else "Made-up: register to get more views.",
                }
            )
        return out


FREE_FIELDS = "system code title shortTitle billable edition { name } description { text } descriptorNote"


async def test_the_descriptor_and_description_spend_no_view_and_the_premium_page_is_still_granted(schema, gateway_auth):
    meter = OneViewMeter()
    described = {
        key: dict(value, description=[{"text": "Made-up sentence.", "source": "made-up.csv"}])
        for key, value in PAGES.items()
    }
    fake = rpc(
        **{
            "metering.check_views": meter,
            "codes.get_code_rules": lambda request: [RULES],
            "codes.get_codes": lambda request: [described.get((r["system"], r["code"])) for r in request["refs"]],
        }
    )
    cookies = guest_cookie(gateway_auth)
    printed = {"K22.0": "K22.0", "J9035": "J9035", "k220": "K22.0"}
    for code in list(printed) * 3:  # aliases too: none of them spends
        system = "HCPCS" if code == "J9035" else "ICD10CM"
        data, errors = await run(
            schema,
            gateway_auth,
            f'{{ a: code(system: {system}, code: "{code}") {{ {FREE_FIELDS} }} '
            f'b: code(system: {system}, code: "{code}") {{ title billable }} }}',
            fake,
            cookies=cookies,
        )
        assert errors == [] and data["a"]["title"] == data["b"]["title"] == f"Made-up title of {printed[code]}"
        assert data["a"]["description"] == {"text": "Made-up sentence."}
    assert fake.calls["metering.check_views"] == 0 and meter.seen == []

    data, errors = await run(
        schema,
        gateway_auth,
        f'{{ code(system: HCPCS, code: "J9035") {{ title access {{ granted }} {PREMIUM} }} }}',
        fake,
        cookies=cookies,
    )
    assert errors == [] and data["code"]["access"] == {"granted": True}
    assert data["code"]["layTerms"] == ["made-up"] and data["code"]["notes"] is not None
    assert meter.seen == ["HCPCS:J9035"] and fake.calls["metering.check_views"] == 1
    data, _ = await run(
        schema, gateway_auth, '{ code(system: ICD10CM, code: "K22.0") { title layTerms } }', fake, cookies=cookies
    )
    assert data["code"] == {"title": "Made-up title of K22.0", "layTerms": None}  # the one view is used up


PREMIUM_SECTIONS = [
    "layTerms",
    "notes { includes }",
    "parent { code }",
    "children { code }",
    "ptpEdits { column1 }",
    "mue { maxUnits }",
    "crosswalks { kind }",
    "coverage { documentsTotal }",
    "codeEdits { edit }",
]


@pytest.mark.parametrize("section", PREMIUM_SECTIONS + ["access { granted }"])
async def test_asking_for_any_one_premium_section_or_the_access_spends_the_view(schema, gateway_auth, section):
    fake = rpc(**{"metering.check_views": grant_first(0), "codes.get_code_rules": lambda request: [RULES]})
    data, errors = await run(
        schema,
        gateway_auth,
        f'{{ code(system: HCPCS, code: "J9035") {{ title {section} }} }}',
        fake,
        cookies=guest_cookie(gateway_auth),
    )
    assert errors == [] and fake.calls["metering.check_views"] == 1
    name = section.split(" ")[0]
    assert data["code"][name] == ({"granted": False} if name == "access" else None)
    assert "codes.get_code_rules" not in fake.calls  # refused: the section's resolver never ran


def test_the_premium_sections_are_the_contracts_and_each_is_declared_once(schema):
    from gateway.schema.codes.access import PremiumSection
    from gateway.schema.codes.types import CodePage

    premium = {
        f.python_name
        for f in CodePage.__strawberry_definition__.fields
        if [type(e) for e in f.extensions] == [PremiumSection]
    }
    assert premium == {
        "lay_terms",
        "notes",
        "parent",
        "children",
        "ptp_edits",
        "mue",
        "crosswalks",
        "coverage",
        "code_edits",
    }  # the contract's premium sections, as PREMIUM_SECTIONS asks for them


async def test_a_bad_ptp_first_is_an_error_and_spends_no_view(schema, gateway_auth):
    fake = rpc(**{"codes.get_code_rules": lambda request: [RULES]})
    data, errors = await run(
        schema,
        gateway_auth,
        '{ code(system: HCPCS, code: "J9035") { title ptpEdits(first: 5000) { column1 } } }',
        fake,
        cookies=guest_cookie(gateway_auth),
    )
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"} and "first must be between" in errors[0]["message"]
    assert data == {"code": {"title": "Made-up title of J9035", "ptpEdits": None}}
    assert "metering.check_views" not in fake.calls and "codes.get_code_rules" not in fake.calls
