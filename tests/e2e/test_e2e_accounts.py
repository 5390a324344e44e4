"""Accounts, guests and the metered code page through the gateway's HTTP endpoint, on a
platform of its own (fresh accounts and metering stores, a small per-IP guest cap, the
gateway trusting 127.0.0.1 as a proxy so each test can be its own client IP).

The code sets are copied from the session stack's data directory instead of loaded again.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
import uuid

import httpx
import jwt
import pytest

IP_CAP = 3
TOKEN_SECRET = "e2e-accounts-token-secret-" + "t" * 32
GUEST_REASON = "Register a free account to get 5 more views"
IP_REASON = "Too many guest page views from your network today"
PREMIUM = "layTerms notes { includes } parent { code } children { code }"
PAGE = f"code title access {{ granted remaining limit reason }} {PREMIUM}"
_ips = (f"203.0.113.{n}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def platform(stack, make_own_stack):
    with make_own_stack(
        stack,
        "e2e-accounts",
        METERING_GUEST_IP_DAILY_CAP=str(IP_CAP),
        GATEWAY_TRUSTED_PROXIES="127.0.0.1",
        TOKEN_SECRET=TOKEN_SECRET,
        GATEWAY_SECRET="e2e-accounts-gateway-secret",
    ) as own:
        yield own


@pytest.fixture(scope="module")
def codes(platform) -> list[str]:
    """Plenty of ICD-10-CM codes that exist (searching is not metered)."""
    body = Client(platform).gql(
        '{ searchCodes(query: "fracture", systems: [ICD10CM], first: 100) { edges { node { code } } } }'
    )
    found = list(dict.fromkeys(edge["node"]["code"] for edge in body["data"]["searchCodes"]["edges"]))
    assert len(found) >= 60
    return found


@pytest.fixture(scope="module")
def fresh(codes):
    """`fresh(n)`: n codes no earlier test of this module opened."""
    unused = iter(codes)

    def take(n: int) -> list[str]:
        out = list(itertools.islice(unused, n))
        assert len(out) == n, "the code pool is used up: search for more codes"
        return out

    return take


class Client:
    """One browser or script: its own cookie jar and client IP (X-Forwarded-For, which
    this gateway believes from 127.0.0.1)."""

    def __init__(self, platform, ip: str | None = None):
        self.ip = ip or next(_ips)
        self.http = httpx.Client(base_url=platform.url, headers={"X-Forwarded-For": self.ip}, timeout=60)

    def post(self, payload, headers: dict | None = None) -> httpx.Response:
        response = self.http.post("/graphql", json=payload, headers=headers or {})
        assert response.status_code == 200, response.text
        return response

    def gql(self, query: str, variables: dict | None = None, headers: dict | None = None) -> dict:
        return self.post({"query": query, "variables": variables or {}}, headers).json()

    def page(self, code: str, headers: dict | None = None) -> dict:
        if headers is None and self.http.cookies.get("medcode_csrf"):
            headers = self.csrf()  # as the web app does: a page view spends, so it needs the proof
        body = self.gql(f"query($c: String!) {{ code(system: ICD10CM, code: $c) {{ {PAGE} }} }}", {"c": code}, headers)
        assert "errors" not in body, body
        return body["data"]["code"]

    def meter(self, headers: dict | None = None) -> dict:
        body = self.gql("{ viewer { account { id plan } meter { plan limit used remaining } } }", headers=headers)
        assert "errors" not in body, body
        return body["data"]["viewer"]["meter"]

    def register(self, email: str | None = None, password: str = "correct horse battery") -> dict:
        email = email or f"user-{uuid.uuid4().hex[:10]}@example.org"
        body = self.gql(
            "mutation($i: RegisterInput!) { register(input: $i) { token account { id email name plan role } } }",
            {"i": {"email": email, "password": password, "name": "Test Person"}},
        )
        assert "errors" not in body, body
        return body["data"]["register"]

    def login(self, email: str, password: str) -> dict:
        return self.gql(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token account { id } } }",
            {"e": email, "p": password},
        )

    def csrf(self) -> dict:
        return {"X-CSRF-Token": self.http.cookies.get("medcode_csrf")}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_full(page: dict) -> None:
    assert page["access"]["granted"] is True, page
    assert page["notes"] is not None and page["layTerms"] is not None and page["children"] is not None


def assert_gated(page: dict, reason: str) -> None:
    assert page["access"]["granted"] is False, page
    assert reason in page["access"]["reason"]
    assert page["title"]  # the official descriptor is always shown
    assert page["layTerms"] is page["notes"] is page["parent"] is page["children"] is None


def error_codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


# -- the meter ---------------------------------------------------------------------------
def test_guest_sees_one_page_then_the_gate(platform, fresh):
    first, second = fresh(2)
    guest = Client(platform)
    response = guest.post({"query": "{ viewer { meter { plan used } } }"})
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "medcode_guest=" in v)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie

    page = guest.page(first)
    assert_full(page)
    assert page["access"] == {"granted": True, "remaining": 0, "limit": 1, "reason": None}
    gated = guest.page(second)
    assert_gated(gated, GUEST_REASON)
    assert gated["access"]["remaining"] == 0 and gated["access"]["limit"] == 1
    assert_full(guest.page(first))  # the page it saw stays open
    assert guest.meter() == {"plan": "GUEST", "limit": 1, "used": 1, "remaining": 0}


def test_the_descriptor_spends_no_view_so_the_guest_still_gets_its_full_page(platform, fresh):
    codes = fresh(4)
    guest = Client(platform)
    free = "code title billable shortTitle edition { name } description { text }"
    for _ in range(3):
        body = guest.gql(
            "{ "
            + " ".join(f'a{i}: code(system: ICD10CM, code: "{c}") {{ {free} }}' for i, c in enumerate(codes))
            + " }"
        )
        assert "errors" not in body, body
        assert all(body["data"][f"a{i}"]["title"] for i in range(len(codes)))
        assert guest.gql("query($c: String!) { code(system: ICD10CM, code: $c) { title } }", {"c": codes[0]})["data"][
            "code"
        ]["title"]
    assert guest.meter() == {"plan": "GUEST", "limit": 1, "used": 0, "remaining": 1}

    page = guest.page(codes[-1])  # the first premium section asked for: the guest's one view
    assert_full(page)
    assert page["access"] == {"granted": True, "remaining": 0, "limit": 1, "reason": None}
    assert_gated(guest.page(codes[0]), GUEST_REASON)
    assert guest.meter() == {"plan": "GUEST", "limit": 1, "used": 1, "remaining": 0}


def test_registering_carries_usage_over_and_gives_five_more_pages(platform, fresh):
    codes = fresh(7)
    person = Client(platform)
    assert_full(person.page(codes[0]))
    assert_gated(person.page(codes[1]), GUEST_REASON)

    person.register()  # the session cookie authenticates the next requests
    assert person.meter() == {"plan": "FREE", "limit": 6, "used": 1, "remaining": 5}
    assert_full(person.page(codes[0]))  # carried over: costs nothing
    for n, code in enumerate(codes[1:6], start=1):
        page = person.page(code)
        assert_full(page)
        assert page["access"]["remaining"] == 5 - n
    gated = person.page(codes[6])
    assert_gated(gated, "Upgrade to PRO")
    assert person.meter() == {"plan": "FREE", "limit": 6, "used": 6, "remaining": 0}


def test_the_same_code_twice_costs_one_view(platform, fresh):
    [code] = fresh(1)
    person = Client(platform)
    token = person.register()["token"]
    spelled = code.lower().replace(".", "")
    body = person.gql(
        f'{{ a: code(system: ICD10CM, code: "{code}") {{ access {{ granted }} }} '
        f'b: code(system: ICD10CM, code: "{spelled}") {{ access {{ granted }} }} }}',
        headers=bearer(token),
    )
    assert body == {"data": {"a": {"access": {"granted": True}}, "b": {"access": {"granted": True}}}}
    assert_full(person.page(code, bearer(token)))
    assert person.meter(bearer(token))["used"] == 1


def test_unknown_codes_and_search_cost_nothing(platform):
    guest = Client(platform)
    assert guest.gql('{ code(system: ICD10CM, code: "Q99.9999") { code } }') == {"data": {"code": None}}
    assert "errors" not in guest.gql('{ searchCodes(query: "achalasia") { totalCount } }')
    assert guest.meter()["used"] == 0


def test_aliases_and_batched_requests_are_each_counted(platform, fresh):
    codes = fresh(7)
    person = Client(platform)
    token = person.register()["token"]
    auth = bearer(token)
    calls = platform.rpc_calls("metering.check_views")
    aliased = " ".join(
        f'a{i}: code(system: ICD10CM, code: "{c}") {{ access {{ granted }} }}' for i, c in enumerate(codes[:3])
    )
    body = person.gql("{ " + aliased + " }", headers=auth)
    assert [body["data"][f"a{i}"]["access"]["granted"] for i in range(3)] == [True] * 3
    assert platform.rpc_calls("metering.check_views") == calls + 1  # one metering call for the request
    assert person.meter(auth)["used"] == 3

    one = "query($c: String!) { code(system: ICD10CM, code: $c) { access { granted reason } } }"
    batch = person.post([{"query": one, "variables": {"c": c}} for c in codes[3:5]], auth).json()
    assert [item["data"]["code"]["access"]["granted"] for item in batch] == [True, True]
    assert person.meter(auth)["used"] == 5

    batch = person.post([{"query": one, "variables": {"c": c}} for c in codes[5:7]], auth).json()
    assert sorted(item["data"]["code"]["access"]["granted"] for item in batch) == [False, True]
    assert person.meter(auth) == {"plan": "FREE", "limit": 6, "used": 6, "remaining": 0}


def make_admin(platform, email: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "accounts.cli", "make-admin", email],
        env=platform.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_pro_is_unlimited(platform, fresh):
    codes = fresh(8)
    admin, person = Client(platform), Client(platform)
    admin_email = f"admin-{uuid.uuid4().hex[:8]}@example.org"
    admin.register(admin_email)
    make_admin(platform, admin_email)
    admin_token = admin.login(admin_email, "correct horse battery")["data"]["login"]["token"]
    account = person.register()

    body = admin.gql(
        "mutation($id: ID!) { setPlan(accountId: $id, plan: PRO) { id plan } }",
        {"id": account["account"]["id"]},
        headers=bearer(admin_token),
    )
    assert body == {"data": {"setPlan": {"id": account["account"]["id"], "plan": "PRO"}}}
    for code in codes:
        page = person.page(code, bearer(account["token"]))
        assert_full(page)
        assert page["access"] == {"granted": True, "remaining": None, "limit": None, "reason": None}
    assert person.meter(bearer(account["token"])) == {"plan": "PRO", "limit": None, "used": 8, "remaining": None}


async def test_twenty_concurrent_guest_requests_grant_exactly_one(platform, fresh):
    codes = fresh(20)
    guest = Client(platform)
    guest.meter()  # gets the guest cookie, spends nothing
    cookies = {"medcode_guest": guest.http.cookies.get("medcode_guest")}
    query = "query($c: String!) { code(system: ICD10CM, code: $c) { access { granted } } }"
    async with httpx.AsyncClient(
        base_url=platform.url, headers={"X-Forwarded-For": guest.ip}, cookies=cookies, timeout=60
    ) as http:
        responses = await asyncio.gather(
            *(http.post("/graphql", json={"query": query, "variables": {"c": c}}) for c in codes)
        )
    granted = [r.json()["data"]["code"]["access"]["granted"] for r in responses]
    assert granted.count(True) == 1 and len(granted) == 20
    assert guest.meter()["used"] == 1


def test_dropping_the_cookie_does_not_get_past_the_ip_cap(platform, fresh):
    codes = fresh(IP_CAP + 2)
    ip = next(_ips)
    pages = [Client(platform, ip).page(code) for code in codes]  # a new cookie-less client each time
    for page in pages[:IP_CAP]:
        assert_full(page)
    for page in pages[IP_CAP:]:
        assert_gated(page, IP_REASON)
    # Another network is not affected, nor is an account on the same one.
    assert_full(Client(platform).page(codes[-1]))
    member = Client(platform, ip)
    token = member.register()["token"]
    assert_full(member.page(codes[-1], bearer(token)))


# -- security ------------------------------------------------------------------------------
def test_wrong_password_and_unknown_email_look_the_same(platform):
    person = Client(platform)
    email = person.register()["account"]["email"]
    wrong = Client(platform).login(email, "not the password")
    unknown = Client(platform).login(f"nobody-{uuid.uuid4().hex[:8]}@example.org", "not the password")
    assert wrong["data"] is None and unknown["data"] is None
    assert [(e["message"], e["extensions"]) for e in wrong["errors"]] == [
        (e["message"], e["extensions"]) for e in unknown["errors"]
    ]
    assert error_codes(wrong) == ["UNAUTHENTICATED"]
    assert "token" in Client(platform).login(email, "correct horse battery")["data"]["login"]


def _resign(token: str, **claims) -> str:
    data = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode({**data, **claims}, TOKEN_SECRET, algorithm="HS256")


def test_tokens_expire_and_logout_revokes(platform):
    person = Client(platform)
    token = person.register()["token"]
    viewer = "{ viewer { account { id } } }"
    # The same session re-signed with a past expiry is refused; with a future one it is
    # accepted (so the refusal is the expiry, not a bad signature).
    expired = _resign(token, exp=int(time.time()) - 5)
    assert error_codes(Client(platform).gql(viewer, headers=bearer(expired))) == ["UNAUTHENTICATED"]
    assert Client(platform).gql(viewer, headers=bearer(_resign(token, exp=int(time.time()) + 600)))["data"]["viewer"][
        "account"
    ]
    assert error_codes(
        Client(platform).gql(viewer, headers=bearer(_resign(token, exp=int(time.time()) + 600)[:-2] + "xx"))
    ) == ["UNAUTHENTICATED"]

    script = Client(platform)
    assert script.gql(viewer, headers=bearer(token))["data"]["viewer"]["account"]
    assert script.gql("mutation { logout }", headers=bearer(token)) == {"data": {"logout": True}}
    body = script.gql(viewer, headers=bearer(token))
    assert error_codes(body) == ["UNAUTHENTICATED"] and "log in again" in body["errors"][0]["message"]


def test_no_endpoint_returns_a_hash_or_another_persons_data(platform):
    ann, bob = Client(platform), Client(platform)
    ann_auth = ann.register()
    bob_auth = bob.register()
    every_field = "{ id email name plan role }"
    responses = [
        ann.post(
            {
                "query": f'mutation {{ login(email: "{ann_auth["account"]["email"]}", '
                f'password: "correct horse battery") {{ token account {every_field} }} }}'
            }
        ),
        bob.post({"query": f"{{ viewer {{ account {every_field} meter {{ plan used }} }} }}"}),
    ]
    for response in responses:
        assert "argon2" not in response.text and "password" not in response.text.lower()
    viewer = responses[1].json()["data"]["viewer"]["account"]
    assert viewer == bob_auth["account"]  # bob sees bob, and only bob's five fields
    fields = Client(platform).gql('{ __type(name: "Account") { fields { name } } }')["data"]["__type"]["fields"]
    assert sorted(f["name"] for f in fields) == ["email", "id", "name", "plan", "role"]

    ann_id = ann_auth["account"]["id"]
    for mutation in (
        "mutation($id: ID!) { setPlan(accountId: $id, plan: PRO) { email name } }",
        "mutation($id: ID!) { deleteAccount(accountId: $id) }",
    ):
        body = bob.gql(mutation, {"id": ann_id}, headers=bearer(bob_auth["token"]))
        assert body["data"] is None and error_codes(body) == ["FORBIDDEN"]
        assert ann_auth["account"]["email"] not in str(body)
    body = bob.gql(
        "mutation($id: ID!) { setPlan(accountId: $id, plan: PRO) { plan } }",
        {"id": bob_auth["account"]["id"]},
        headers=bearer(bob_auth["token"]),
    )
    assert error_codes(body) == ["FORBIDDEN"]  # nobody upgrades themselves
    body = Client(platform).gql(
        'mutation { register(input: {email: "x-admin@example.org", password: "long enough pw",'
        ' name: "X", role: ADMIN}) { token } }'
    )
    assert error_codes(body) == ["FORBIDDEN"]


def test_cookie_mutations_need_the_csrf_token(platform):
    browser = Client(platform)
    browser.register()
    assert browser.http.cookies.get("medcode_session") and browser.http.cookies.get("medcode_csrf")
    assert browser.gql("{ viewer { account { id } } }")["data"]["viewer"]["account"]  # queries need no token

    refused = browser.gql("mutation { logout }")
    assert refused["data"] is None and error_codes(refused) == ["FORBIDDEN"]
    forged = browser.gql("mutation { logout }", headers={"X-CSRF-Token": "forged"})
    assert error_codes(forged) == ["FORBIDDEN"]
    assert browser.gql("{ viewer { account { id } } }")["data"]["viewer"]["account"]  # still logged in

    assert browser.gql("mutation { logout }", headers=browser.csrf()) == {"data": {"logout": True}}
    assert browser.http.cookies.get("medcode_session") is None
    assert browser.gql("{ viewer { account { id } } }")["data"]["viewer"]["account"] is None


def test_deleted_accounts_cannot_log_in(platform, fresh):
    [code] = fresh(1)
    person = Client(platform)
    registered = person.register()
    email, token = registered["account"]["email"], registered["token"]
    assert_full(person.page(code))
    assert person.gql("mutation { deleteAccount }", headers=person.csrf()) == {"data": {"deleteAccount": True}}
    assert person.http.cookies.get("medcode_session") is None

    assert error_codes(Client(platform).login(email, "correct horse battery")) == ["UNAUTHENTICATED"]
    assert error_codes(Client(platform).gql("{ viewer { account { id } } }", headers=bearer(token))) == [
        "UNAUTHENTICATED"
    ]
    # The address is free again: the person's account is gone, not disabled.
    again = Client(platform).register(email)
    assert again["account"]["id"] != registered["account"]["id"]
    assert Client(platform).meter(bearer(again["token"]))["used"] == 0
