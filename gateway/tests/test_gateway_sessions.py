"""Session tokens checked in the gateway (gateway.sessions) and the code page in one round
of RPCs (gateway.schema.codes.access, the page cache of gateway.edition_cache): a fake RPC
client, a real request context."""

from __future__ import annotations

import asyncio

import pytest
from starlette.responses import Response

from gateway import testing
from gateway.auth import CSRF_HEADER, GUEST_COOKIE, SESSION_COOKIE, GatewayAuth, csrf_token, guest_cookie_value
from gateway.context import Context
from gateway.edition_cache import EditionCaches
from gateway.schema import build_schema
from gateway.sessions import SUBSCRIPTIONS, SessionCache
from gateway.settings import AuthSettings
from gateway.testing import make_request, session_token, set_cookies
from medcode_contracts import accounts, events
from medcode_contracts import codes as codes_contract
from medcode_contracts.errors import BadRequest, Unauthenticated, Unavailable

SECRET = "sessions-test-token-secret-" + "s" * 32
GUEST = testing.GUEST_ID
ACCOUNT = {**testing.ACCOUNT, "plan": "PRO"}
PAGE = testing.made_up_page("ICD10CM", "K22.0")


def cache(**options) -> SessionCache:
    sessions = SessionCache(
        SECRET, max_age=options.pop("max_age", 60), max_size=options.pop("max_size", 100), **options
    )
    sessions.start_listening()
    return sessions


# -- the token and what is kept ----------------------------------------------------------
def test_a_token_is_checked_here_as_accounts_signs_it():
    sessions = cache()
    token = session_token(SECRET, "u-1", "s-1")
    claims = sessions.verify(token)
    assert (claims.account_id, claims.session_id) == ("u-1", "s-1")
    for bad in (
        session_token("another secret " * 4, "u-1"),
        session_token(SECRET, "u-1", ttl=-10),
        token[:-2] + "xx",
        "not-a-jwt",
    ):
        with pytest.raises(Unauthenticated):
            sessions.verify(bad)


def test_a_token_checked_before_still_expires_on_time(monkeypatch):
    sessions = cache()
    token = session_token(SECRET, "u-1", "s-1", ttl=60)
    first = sessions.verify(token)
    assert sessions.verify(token) == first  # its signature is not checked again
    with pytest.raises(Unauthenticated):
        sessions.verify(token[:-2] + "xx")  # a tampered copy is no known token
    monkeypatch.setattr("gateway.sessions.time.time", lambda: first.expires_at + 1)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            sessions.verify(token)


def test_kept_until_an_event_drops_it():
    sessions = cache()
    account = accounts.Account.model_validate(ACCOUNT)
    one, two = (sessions.verify(session_token(SECRET, "u-1", s)) for s in ("s-1", "s-2"))
    for claims in (one, two):
        sessions.put(claims, account, sessions.epoch)
    assert sessions.get(one) == account and sessions.get(two) == account
    sessions.on_session_revoked(events.SessionRevoked(user_id="u-1", session_id="s-1", reason="logout").payload())
    assert sessions.get(one) is None and sessions.get(two) == account
    sessions.on_account_changed(events.PlanChanged(user_id="u-1", old_plan="FREE", new_plan="PRO").payload())
    assert sessions.get(two) is None and len(sessions) == 0


def test_every_event_that_changes_a_kept_account_drops_its_sessions():
    handlers = {(source, kind): handler for source, kind, handler in SUBSCRIPTIONS}
    changes = [
        events.PlanChanged(user_id="u-1", old_plan="FREE", new_plan="PRO"),
        events.RoleChanged(user_id="u-1", old_role="MEMBER", new_role="ADMIN"),
        events.UserDeleted(user_id="u-1"),
    ]
    account = accounts.Account.model_validate(ACCOUNT)
    for event in changes:
        sessions = cache()
        claims = sessions.verify(session_token(SECRET, "u-1", "s-1"))
        sessions.put(claims, account, sessions.epoch)
        getattr(sessions, handlers[(event.SOURCE, event.TYPE)])(event.payload())
        assert sessions.get(claims) is None, event.TYPE


def test_an_answer_that_crossed_a_revocation_is_not_kept():
    sessions = cache()
    claims = sessions.verify(session_token(SECRET, "u-1", "s-1"))
    epoch = sessions.epoch  # read before asking accounts...
    sessions.forget_session("s-1")  # ...the logout event arrives meanwhile
    sessions.put(claims, accounts.Account.model_validate(ACCOUNT), epoch)
    assert sessions.get(claims) is None


def test_nothing_is_kept_while_the_events_cannot_arrive():
    sessions = cache()
    account = accounts.Account.model_validate(ACCOUNT)
    claims = sessions.verify(session_token(SECRET, "u-1", "s-1"))
    sessions.put(claims, account, sessions.epoch)
    sessions.stop_listening(None, ConnectionError("broker gone"))
    assert sessions.get(claims) is None
    sessions.put(claims, account, sessions.epoch)
    assert sessions.get(claims) is None
    sessions.start_listening()
    sessions.put(claims, account, sessions.epoch)
    assert sessions.get(claims) == account


def test_the_time_limit_and_the_size_limit():
    now = [1000.0]
    sessions = cache(max_age=10, max_size=2, clock=lambda: now[0])
    account = accounts.Account.model_validate(ACCOUNT)
    claims = [sessions.verify(session_token(SECRET, "u-1", f"s-{i}")) for i in range(3)]
    for one in claims:
        sessions.put(one, account, sessions.epoch)
    assert len(sessions) == 2 and sessions.get(claims[0]) is None and sessions.get(claims[2]) == account
    now[0] += 11
    assert sessions.get(claims[2]) is None
    off = cache(max_age=0)
    off.put(claims[0], account, off.epoch)
    assert off.get(claims[0]) is None


# -- through the schema --------------------------------------------------------------------
@pytest.fixture(scope="module")
def schema():
    return build_schema()


AUTH = AuthSettings(GATEWAY_SECRET="sessions-gateway-secret-" + "g" * 32, TOKEN_SECRET=SECRET)


@pytest.fixture(scope="module")
def gateway_auth():
    return GatewayAuth(AUTH)


class SlowRpc(testing.FakeRpc):
    """Answers after a short wait, and notes which calls were in flight together."""

    def __init__(self, answers: dict):
        super().__init__(answers)
        self.in_flight: set[str] = set()
        self.together: list[set[str]] = []

    async def call(self, service, method, **kwargs):
        target = f"{service}.{method}"
        self.in_flight.add(target)
        try:
            await asyncio.sleep(0.01)
            self.together.append(set(self.in_flight))
            return await super().call(service, method, **kwargs)
        finally:
            self.in_flight.discard(target)


def rpc(**extra) -> SlowRpc:
    def get_codes(kwargs):
        return [
            PAGE if (ref["system"], ref["code"]) == ("ICD10CM", "K220") else None for ref in kwargs["request"]["refs"]
        ]

    def check_views(kwargs):
        return [
            {"resource": r, "granted": True, "remaining": None, "limit": None} for r in kwargs["request"]["resources"]
        ]

    return SlowRpc(
        {"codes.get_codes": get_codes, "metering.check_views": check_views, "accounts.authenticate": ACCOUNT, **extra}
    )


def holding_k22_0() -> EditionCaches:
    """Caches that hold the page of K22.0, as after a first view of it."""
    caches = EditionCaches()
    caches.code_pages.put(("ICD10CM", "K220"), codes_contract.CodePage.model_validate(PAGE))
    return caches


async def run(
    schema,
    gateway_auth,
    query,
    fake,
    *,
    sessions=None,
    caches=None,
    headers=None,
    cookies=None,
    method="POST",
    response=None,
):
    response = response if response is not None else Response()
    request = make_request(headers, cookies, method=method)
    context = Context(
        rpc=fake,
        request=request,
        response=response,
        auth=gateway_auth.for_request(request, response),
        gateway_auth=gateway_auth,
        sessions=sessions,
        caches=caches,
    )
    result = await schema.execute(query, context_value=context)
    return result.data, [e.formatted for e in result.errors or []]


PAGE_QUERY = '{ code(system: ICD10CM, code: "k220") { code access { granted } notes { includes } } }'


async def test_a_session_costs_one_authenticate_per_process_until_it_is_revoked(schema, gateway_auth):
    sessions, fake = cache(), rpc()
    bearer = {"Authorization": f"Bearer {session_token(SECRET, 'u-1', 's-1')}"}
    for _ in range(3):
        data, errors = await run(schema, gateway_auth, PAGE_QUERY, fake, sessions=sessions, headers=bearer)
        assert errors == [] and data["code"]["access"] == {"granted": True}
    assert fake.calls["accounts.authenticate"] == 1 and fake.calls["metering.check_views"] == 3
    sessions.on_session_revoked(events.SessionRevoked(user_id="u-1", session_id="s-1", reason="logout").payload())
    fake.answers["accounts.authenticate"] = Unauthenticated("Your session is invalid or has expired: log in again.")
    data, errors = await run(schema, gateway_auth, PAGE_QUERY, fake, sessions=sessions, headers=bearer)
    assert errors[0]["extensions"] == {"code": "UNAUTHENTICATED"} and fake.calls["accounts.authenticate"] == 2


async def test_a_forged_token_is_refused_without_asking_accounts(schema, gateway_auth):
    fake = rpc()
    forged = {"Authorization": f"Bearer {session_token('not the secret ' * 3, 'u-1')}"}
    data, errors = await run(schema, gateway_auth, PAGE_QUERY, fake, sessions=cache(), headers=forged)
    assert errors[0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert fake.calls["accounts.authenticate"] == 0 and fake.calls["metering.check_views"] == 0


async def test_a_cached_page_costs_only_the_meter(schema, gateway_auth):
    sessions, caches = cache(), EditionCaches()
    bearer = {"Authorization": f"Bearer {session_token(SECRET, 'u-1', 's-1')}"}
    await run(schema, gateway_auth, PAGE_QUERY, rpc(), sessions=sessions, caches=caches, headers=bearer)
    assert caches.code_pages.peek(("ICD10CM", "K220")) is not None  # the codes service answered for it once
    fake = rpc()
    data, errors = await run(schema, gateway_auth, PAGE_QUERY, fake, sessions=sessions, caches=caches, headers=bearer)
    assert errors == [] and data["code"]["access"] == {"granted": True}
    assert fake.calls["codes.get_codes"] == 0  # one round: the meter's
    assert fake.calls["metering.check_views"] == 1 and fake.calls["accounts.authenticate"] == 0
    assert fake.sent("metering.check_views")[0]["resources"] == ["ICD10CM:K22.0"]


async def test_a_guest_s_cached_page_is_metered_on_every_view(schema, gateway_auth):
    caches = holding_k22_0()
    fake = rpc()
    cookies = {GUEST_COOKIE: guest_cookie_value(gateway_auth.signer, GUEST)}
    for _ in range(2):
        data, errors = await run(schema, gateway_auth, PAGE_QUERY, fake, caches=caches, cookies=cookies)
        assert errors == [] and data["code"]["notes"] == {"includes": []}
    assert fake.calls["codes.get_codes"] == 0
    assert fake.sent("metering.check_views") == 2 * [
        {"subject": GUEST, "plan": "GUEST", "resources": ["ICD10CM:K22.0"], "client_ip": "198.51.100.7"}
    ]


async def test_a_refused_guest_gets_no_premium_section_from_a_cached_page(schema, gateway_auth):
    def refuse(kwargs):
        return [
            {"resource": r, "granted": False, "remaining": 0, "limit": 3, "reason": "Guest views are used up."}
            for r in kwargs["request"]["resources"]
        ]

    caches, fake = holding_k22_0(), rpc(**{"metering.check_views": refuse})
    cookies = {GUEST_COOKIE: guest_cookie_value(gateway_auth.signer, GUEST)}
    query = '{ code(system: ICD10CM, code: "K22.0") { title access { granted } notes { includes } children { code } } }'
    data, errors = await run(schema, gateway_auth, query, fake, caches=caches, cookies=cookies)
    assert errors == [] and fake.calls["codes.get_codes"] == 0 and fake.calls["metering.check_views"] == 1
    assert data["code"] == {"title": PAGE["title"], "access": {"granted": False}, "notes": None, "children": None}


@pytest.mark.parametrize(
    "query",
    [
        '{ code(system: ICD10CM, code: "K22.0") { code title } }',  # asks nothing premium
        '{ code(system: ICD10CM, code: "K22.0") { code notes @skip(if: true) { includes } } }',
        'query($no: Boolean = false) { code(system: ICD10CM, code: "K22.0") '
        "{ ... @include(if: $no) { access { granted } } } }",
    ],
)
async def test_nothing_is_spent_early_that_the_query_may_not_ask_for(schema, gateway_auth, query):
    fake = rpc()
    cookies = {GUEST_COOKIE: guest_cookie_value(gateway_auth.signer, GUEST)}
    data, errors = await run(schema, gateway_auth, query, fake, caches=holding_k22_0(), cookies=cookies)
    assert errors == [] and fake.calls["metering.check_views"] == 0


async def test_an_unknown_code_is_metered_only_after_it_exists(schema, gateway_auth):
    caches = EditionCaches()
    fake = rpc()
    cookies = {GUEST_COOKIE: guest_cookie_value(gateway_auth.signer, GUEST)}
    data, errors = await run(
        schema,
        gateway_auth,
        '{ code(system: ICD10CM, code: "Q99.9") { access { granted } } }',
        fake,
        caches=caches,
        cookies=cookies,
    )
    assert data == {"code": None} and fake.calls["metering.check_views"] == 0
    data, errors = await run(schema, gateway_auth, PAGE_QUERY, fake, caches=caches, cookies=cookies)
    assert errors == [] and [name for name, _ in fake.requests][-1] == "metering.check_views"
    assert {"codes.get_codes", "metering.check_views"} not in fake.together  # first sight: after the page
    caches.clear({"schema": "codes.edition_loaded/1"})  # a new edition: the code may be gone
    assert caches.code_pages.peek(("ICD10CM", "K220")) is None


@pytest.mark.parametrize(
    ("query", "early"),
    [
        (PAGE_QUERY, True),
        ('{ code(system: ICD10CM, code: "K22.0") { ... on CodePage { access { granted } } } }', True),
        ('{ code(system: ICD10CM, code: "K22.0") { ...Page } } fragment Page on CodePage { notes { includes } }', True),
        ('{ code(system: ICD10CM, code: "K22.0") { ...Page } } fragment Page on CodePage { title }', False),
        ('{ code(system: ICD10CM, code: "K22.0") { title billable } }', False),
        ('{ code(system: ICD10CM, code: "K22.0") @include(if: true) { access { granted } } }', False),
        (
            '{ code(system: ICD10CM, code: "K22.0") { ...Page @include(if: true) } } '
            "fragment Page on CodePage { access { granted } }",
            False,
        ),
        (
            '{ code(system: ICD10CM, code: "K22.0") { access { granted } } '
            'code(system: ICD10CM, code: "K22.0") { title } }',
            False,
        ),  # two nodes of one field: wait for the page
    ],
)
async def test_the_meter_is_asked_early_only_when_the_query_surely_spends(
    schema, gateway_auth, monkeypatch, query, early
):
    from gateway.schema.codes import queries

    asked: list[str] = []
    monkeypatch.setattr(queries, "prefetch_access", lambda context, resource: asked.append(resource))
    cookies = {GUEST_COOKIE: guest_cookie_value(gateway_auth.signer, GUEST)}
    data, errors = await run(schema, gateway_auth, query, rpc(), caches=holding_k22_0(), cookies=cookies)
    assert errors == [] and asked == (["ICD10CM:K22.0"] if early else [])


def refuse(kwargs):
    return [
        {"resource": r, "granted": False, "remaining": 0, "limit": 3, "reason": "Guest views are used up."}
        for r in kwargs["request"]["resources"]
    ]


METERS = {
    "grants": {},
    "refuses": {"metering.check_views": refuse},
    "is away": {"metering.check_views": Unavailable("the metering service did not answer check_views within 5 s")},
    "fails": {"metering.check_views": BadRequest("made-up: the meter refuses the request")},
    "answers off contract": {"metering.check_views": [{"granted": "maybe"}]},
}
CALLERS = {
    "member": {"headers": {"Authorization": f"Bearer {session_token(SECRET, 'u-1', 's-1')}"}},
    "guest": {"cookies": {GUEST_COOKIE: guest_cookie_value(GatewayAuth(AUTH).signer, GUEST)}},
    "expired token": {"headers": {"Authorization": f"Bearer {session_token(SECRET, 'u-1', 's-2', ttl=-1)}"}},
    "GET": {"method": "GET"},
}
EVERY_SECTION = (
    '{ code(system: ICD10CM, code: "K22.0") { title access { granted remaining reason } '
    "layTerms notes { includes } parent { code } children { code } } }"
)


@pytest.mark.parametrize("meter", METERS)
@pytest.mark.parametrize("caller", CALLERS)
async def test_a_cached_page_answers_as_a_page_from_the_codes_service(schema, gateway_auth, meter, caller):
    """The page held here takes the short way (the meter asked at once, the code field waits
    for its decision and the page's fields read it without a coroutine each): the same
    answer, errors and RPCs as a page the codes service sends."""
    answers = []
    for caches in (EditionCaches(), holding_k22_0()):
        sessions = cache()
        fake = rpc(**METERS[meter])
        data, errors = await run(
            schema, gateway_auth, EVERY_SECTION, fake, sessions=sessions, caches=caches, **CALLERS[caller]
        )
        sent = [(name, kwargs) for name, kwargs in fake.requests if name != "codes.get_codes"]
        answers.append((data, sorted(errors, key=lambda e: e["path"]), sent))
    assert answers[0] == answers[1]
    if meter == "grants" and caller in ("member", "guest"):
        assert answers[1][0]["code"]["access"]["granted"] is True


async def test_a_kept_session_is_refused_once_its_token_expires_or_it_is_revoked(schema, gateway_auth, monkeypatch):
    """The session's account comes at once from what this process keeps (no RPC, no task),
    but only for its live token: expired, it is refused without asking accounts; revoked,
    accounts is asked again. Either way the dead session cookie is cleared."""
    sessions, fake = cache(), rpc()
    tokens = {s: session_token(SECRET, "u-1", s, ttl=60) for s in ("s-1", "s-2")}

    async def page_with(session_id: str):
        token, response = tokens[session_id], Response()
        credentials = {
            "cookies": {SESSION_COOKIE: token},
            "headers": {CSRF_HEADER: csrf_token(gateway_auth.signer, token)},
        }
        data, errors = await run(
            schema, gateway_auth, PAGE_QUERY, fake, sessions=sessions, caches=caches, response=response, **credentials
        )
        return data, errors, SESSION_COOKIE in set_cookies(response)

    caches = holding_k22_0()
    for session_id in ("s-1", "s-1", "s-2"):
        data, errors, cleared = await page_with(session_id)
        assert errors == [] and data["code"]["access"] == {"granted": True} and not cleared
    assert fake.calls["accounts.authenticate"] == 2  # once per session

    sessions.on_session_revoked(events.SessionRevoked(user_id="u-1", session_id="s-2", reason="logout").payload())
    fake.answers["accounts.authenticate"] = Unauthenticated("Your session is invalid or has expired: log in again.")
    data, errors, cleared = await page_with("s-2")
    assert errors[0]["extensions"] == {"code": "UNAUTHENTICATED"} and data == {"code": None} and cleared
    assert fake.calls["accounts.authenticate"] == 3

    expires_at = sessions.verify(tokens["s-1"]).expires_at
    monkeypatch.setattr("gateway.sessions.time.time", lambda: expires_at + 1)
    data, errors, cleared = await page_with("s-1")
    assert errors[0]["extensions"] == {"code": "UNAUTHENTICATED"} and data == {"code": None} and cleared
    assert fake.calls["accounts.authenticate"] == 3 and fake.calls["metering.check_views"] == 3
