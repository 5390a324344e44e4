"""The platform tried as an attacker would, end to end on a platform of its own (the
gateway trusting no proxy, as shipped; a small code-page cache; default per-IP caps):
forged X-Forwarded-For, a GET link that would spend a member's views, checkClaim past
the quota, a cookie-less crawl, random code pages under concurrency, 50 parallel log-ins
against the accounts process's memory, and a schema-driven fuzz run of the whole API.

Order matters within the module: every client here is 127.0.0.1, so the guest tests come
before anything else spends that address's daily guest cap.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import sqlite3
import sys
import time
import uuid
from datetime import UTC, date, datetime
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path

import httpx
import pytest

from medcode_common.broker_admin import TemporaryVhost

GUEST_IP_CAP = 10  # METERING_GUEST_IP_DAILY_CAP's default
PAGE = "query($c: String!) { code(system: ICD10CM, code: $c) { code title access { granted reason } layTerms } }"
CLAIM = """query($input: ClaimInput!) { checkClaim(input: $input) {
  clean access { granted reason } findings { kind codes lines message modifierAllowed } } }"""
BUNDLED_CLAIM = {"input": {"dateOfService": "2024-08-01", "lines": [{"code": "11042"}, {"code": "97597"}]}}


@pytest.fixture(scope="module")
def platform(stack, make_own_stack):
    with make_own_stack(
        stack,
        "e2e-abuse",
        TOKEN_SECRET="e2e-abuse-token-secret-" + "t" * 32,
        GATEWAY_SECRET="e2e-abuse-gateway-secret",
        CODES_PAGE_CACHE_SIZE="16",
    ) as own:
        yield own


@pytest.fixture(scope="module")
def codes(platform) -> list[str]:
    """Plenty of ICD-10-CM codes that exist (searching is not metered)."""
    found = []
    for word in ("fracture", "diabetes", "infection"):
        body = gql(
            httpx.Client(base_url=platform.url, timeout=60),
            '{ searchCodes(query: "%s", systems: [ICD10CM], first: 100) { edges { node { code } } } }' % word,
        )
        found += [edge["node"]["code"] for edge in body["data"]["searchCodes"]["edges"]]
    found = list(dict.fromkeys(found))
    assert len(found) >= 150
    return found


def gql(http: httpx.Client, query: str, variables: dict | None = None, headers: dict | None = None) -> dict:
    response = http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()


def register(http: httpx.Client) -> dict:
    body = gql(
        http,
        "mutation($i: RegisterInput!) { register(input: $i) { token account { id } } }",
        {
            "i": {
                "email": f"abuse-{uuid.uuid4().hex[:10]}@example.org",
                "password": "correct horse battery",
                "name": "Test Person",
            }
        },
    )
    assert "errors" not in body, body
    return body["data"]["register"]


def meter(http: httpx.Client, headers: dict | None = None) -> dict:
    return gql(http, "{ viewer { meter { plan limit used remaining } } }", headers=headers)["data"]["viewer"]["meter"]


# -- 1. a forged client address is not believed -----------------------------------------------
def test_forged_x_forwarded_for_from_loopback_is_not_believed(platform, codes):
    pages = []
    for n, code in enumerate(codes[: GUEST_IP_CAP + 3], start=1):  # cookie-less, a new "address" each time
        with httpx.Client(base_url=platform.url, headers={"X-Forwarded-For": f"203.0.113.{n}"}, timeout=60) as http:
            body = gql(http, PAGE, {"c": code})
        assert "errors" not in body, body
        pages.append(body["data"]["code"])
    assert [page["access"]["granted"] for page in pages] == [True] * GUEST_IP_CAP + [False] * 3
    assert "Too many guest page views from your network" in pages[-1]["access"]["reason"]
    assert pages[-1]["title"] and pages[-1]["layTerms"] is None


# -- 9. a crawl leaves bounded rows -------------------------------------------------------------
async def test_a_thousand_request_cookieless_crawl_leaves_bounded_rows(platform, codes):
    async with httpx.AsyncClient(base_url=platform.url, timeout=60) as http:
        http.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # a crawler keeps no cookie
        semaphore = asyncio.Semaphore(20)

        async def one(code):
            async with semaphore:
                return await http.post("/graphql", json={"query": PAGE, "variables": {"c": code}})

        responses = await asyncio.gather(*(one(code) for code in itertools.islice(itertools.cycle(codes), 1000)))
    assert {r.status_code for r in responses} == {200}
    assert not any(r.json()["data"]["code"]["access"]["granted"] for r in responses)  # the cap is spent
    with sqlite3.connect(platform.workdir / "data" / "metering.sqlite3") as db:
        counts = {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("metering_subjects", "metering_views", "metering_ip_days", "metering_outbox")
        }
    assert counts["metering_subjects"] <= GUEST_IP_CAP + 2, counts  # the guests that were granted, no more
    assert counts["metering_views"] <= GUEST_IP_CAP + 2 and counts["metering_ip_days"] <= 2, counts


# -- 3. checkClaim is metered ---------------------------------------------------------------
def test_check_claim_is_metered_and_withholds_details_past_the_quota(platform):
    with httpx.Client(base_url=platform.url, timeout=60) as guest:
        first = gql(guest, CLAIM, BUNDLED_CLAIM)["data"]["checkClaim"]
        second = gql(guest, CLAIM, BUNDLED_CLAIM)["data"]["checkClaim"]
    assert first["access"] == {"granted": True, "reason": None}
    [finding] = [f for f in first["findings"] if f["kind"] == "PTP"]
    assert finding["codes"] == ["11042", "97597"] and finding["modifierAllowed"] is not None
    assert second["clean"] is first["clean"] is False
    assert second["access"]["granted"] is False and "Guests can check 1 claim a day" in second["access"]["reason"]
    assert [(f["kind"], f["codes"], f["lines"]) for f in second["findings"]] == [
        (f["kind"], f["codes"], f["lines"]) for f in first["findings"]
    ]
    assert all(f["modifierAllowed"] is None and f["message"] == second["access"]["reason"] for f in second["findings"])

    with httpx.Client(base_url=platform.url, timeout=60) as member:
        token = register(member)["token"]
        auth = {"Authorization": f"Bearer {token}"}
        checks = [gql(member, CLAIM, BUNDLED_CLAIM, auth)["data"]["checkClaim"]["access"]["granted"] for _ in range(11)]
    assert checks == [True] * 10 + [False]  # FREE: 10 a day; one claim of several lines counts once


# -- 2. a link spends nothing ------------------------------------------------------------------
def test_a_get_link_spends_none_of_a_members_views(platform, codes):
    a, b, c = codes[-3:]
    with httpx.Client(base_url=platform.url, timeout=60) as browser:
        register(browser)  # the session cookie, as in a browser
        assert meter(browser)["used"] == 0
        link = (
            '{ a: code(system: ICD10CM, code: "%s") { access { granted reason } layTerms } '
            'b: code(system: ICD10CM, code: "%s") { access { granted } } '
            'c: code(system: ICD10CM, code: "%s") { access { granted } } }' % (a, b, c)
        )
        response = browser.get("/graphql", params={"query": link})
        assert response.status_code == 200
        body = response.json()
        assert "errors" not in body, body
        assert [body["data"][k]["access"]["granted"] for k in "abc"] == [False] * 3
        assert "GET request never spends" in body["data"]["a"]["access"]["reason"]
        # A cross-site form POST carries the cookie but not the CSRF header: nothing either.
        forged = gql(browser, PAGE, {"c": a})["data"]["code"]
        assert forged["access"]["granted"] is False and "X-CSRF-Token" in forged["access"]["reason"]
        assert meter(browser)["used"] == 0
        # The web app (with the header) spends one view.
        granted = gql(browser, PAGE, {"c": a}, {"X-CSRF-Token": browser.cookies.get("medcode_csrf")})
        assert granted["data"]["code"]["access"]["granted"] is True
        assert meter(browser)["used"] == 1


# -- 10. random code pages under concurrency ----------------------------------------------------
async def test_random_code_pages_under_concurrency_give_no_internal_error(platform, codes):
    rng = random.Random(7)
    async with httpx.AsyncClient(base_url=platform.url, timeout=60) as http:
        requests = []
        for _ in range(150):  # far more distinct codes than the 16 pages the codes service keeps
            aliases = " ".join(
                f'a{i}: code(system: ICD10CM, code: "{rng.choice(codes)}") {{ code title }}'
                for i in range(rng.randrange(1, 6))
            )
            requests.append(http.post("/graphql", json={"query": "{ " + aliases + " }"}))
        responses = await asyncio.gather(*requests)
    assert {r.status_code for r in responses} == {200}
    bodies = [r.json() for r in responses]
    assert [b for b in bodies if "errors" in b] == []
    assert all(page["title"] for b in bodies for page in b["data"].values())


# -- 4. password hashing within the accounts process's memory --------------------------------
ACCOUNTS_MEMORY_LIMIT = 512 * 1024 * 1024  # deploy/k8s/base/accounts.yaml


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


async def test_fifty_concurrent_logins_keep_the_accounts_process_under_its_memory_limit(tmp_path):
    """The real argon2id cost (64 MiB a hash): unbounded, 10 workers hashing at once need
    more than the pod's 512 MiB."""
    import subprocess

    from gateway.rpc import RpcClient
    from medcode_common.launcher import SERVICES
    from medcode_contracts.errors import Unauthenticated

    with TemporaryVhost("e2e-hash-memory") as vhost:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARGON2_") and k != "DATABASE_URL"}
        env.update(AMQP_URI=vhost.amqp_uri, DATA_DIR=str(tmp_path))
        with open(tmp_path / "accounts.log", "w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "medcode_common.runner", SERVICES["accounts"]],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        rpc = RpcClient(vhost.amqp_uri, timeout=120)
        try:
            await rpc.start()
            deadline = time.monotonic() + 60
            while True:  # until the service answers
                try:
                    await rpc.call("accounts", "health", timeout=2)
                    break
                except Exception:  # noqa: BLE001 - not up yet
                    assert time.monotonic() < deadline and process.poll() is None, (
                        tmp_path / "accounts.log"
                    ).read_text()
                    await asyncio.sleep(0.5)
            before = peak_rss(process.pid)

            async def login(n: int):
                try:
                    await rpc.call(
                        "accounts",
                        "login",
                        request={
                            "email": f"nobody-{n}-{uuid.uuid4().hex[:6]}@example.org",
                            "password": "a random guess",
                        },
                    )
                except Unauthenticated:
                    return "refused"
                return "logged in"

            results = await asyncio.gather(*(login(n) for n in range(50)))
            assert results == ["refused"] * 50
            peak = peak_rss(process.pid)
        finally:
            await rpc.close()
            process.terminate()
            process.wait(timeout=30)
    assert peak < ACCOUNTS_MEMORY_LIMIT, f"peak RSS {peak / 2**20:.0f} MiB (at start {before / 2**20:.0f} MiB)"


# -- the whole API, fuzzed from its schema ------------------------------------------------------
FUZZ_EXAMPLES = 300  # per phase; two phases (with and without a session) make 600 requests


def test_schema_driven_fuzz_gets_no_internal_error_and_no_500(platform):
    import graphql
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from hypothesis_graphql import from_schema, mutations, nodes

    from gateway.schema import build_schema

    schema = graphql.build_schema(str(build_schema()))
    scalars = {
        "Date": st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 1, 1)).map(str).map(nodes.String),
        "DateTime": st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat).map(nodes.String),
    }
    queries = from_schema(schema, custom_scalars=scalars)
    # With a session, no mutation that would end it (the rest of the run needs it).
    session_fields = [name for name in schema.mutation_type.fields if name not in ("logout", "deleteAccount")]
    with_session = st.one_of(
        from_schema(schema, fields=list(schema.query_type.fields), custom_scalars=scalars),
        mutations(schema, fields=session_fields, custom_scalars=scalars),
    )
    sent, problems = [0], []

    with httpx.Client(base_url=platform.url, timeout=60) as http:
        token = register(http)["token"]
        http.cookies.clear()

        def check(query: str, headers: dict) -> None:
            response = http.post("/graphql", json={"query": query}, headers=headers)
            http.cookies.clear()
            sent[0] += 1
            if response.status_code >= 500:
                problems.append((response.status_code, query, response.text[:300]))
                return
            if response.headers.get("content-type", "").startswith("application/json"):
                body = response.json()
                for error in (body.get("errors") or []) if isinstance(body, dict) else []:
                    if (error.get("extensions") or {}).get("code") == "INTERNAL":
                        problems.append(("INTERNAL", query, error.get("message")))

        fuzz = settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )

        @fuzz
        @given(queries)
        def as_a_guest(query):
            check(query, {})

        @fuzz
        @given(with_session)
        def with_a_session(query):
            check(query, {"Authorization": f"Bearer {token}"})

        as_a_guest()
        with_a_session()
        # The session is still good: the run did not just bounce off a dead token.
        assert gql(http, "{ viewer { account { id } } }", headers={"Authorization": f"Bearer {token}"})["data"][
            "viewer"
        ]["account"]
    assert sent[0] >= 500
    assert problems == [], problems[:5]
