"""Sessions checked in the gateway with revocations by event, and the guest's repeat view
that writes nothing, over the real broker on a platform of its own (fresh accounts and
metering stores, so no other test's events arrive meanwhile)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from gateway.rpc import RpcClient

pytestmark = pytest.mark.rabbit

TOKEN_SECRET = "e2e-sessions-token-secret-" + "t" * 32
EVENT_LATENCY = 5.0  # seconds: outbox relay right after commit, one hop through the broker
VIEWER = "{ viewer { account { id plan } } }"
PAGE = "query($c: String!) { code(system: ICD10CM, code: $c) { code access { granted } notes { includes } } }"


@pytest.fixture(scope="module")
def platform(stack, make_own_stack):
    with make_own_stack(
        stack,
        "e2e-sessions",
        TOKEN_SECRET=TOKEN_SECRET,
        GATEWAY_SECRET="e2e-sessions-gateway-secret",
    ) as own:
        yield own


def gql(
    platform, query: str, variables: dict | None = None, headers: dict | None = None, client: httpx.Client | None = None
) -> dict:
    post = client.post if client is not None else httpx.post
    url = "/graphql" if client is not None else f"{platform.url}/graphql"
    response = post(url, json={"query": query, "variables": variables or {}}, headers=headers or {}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def register(platform) -> tuple[str, str]:
    body = gql(
        platform,
        "mutation($i: RegisterInput!) { register(input: $i) { token account { id } } }",
        {
            "i": {
                "email": f"s-{uuid.uuid4().hex[:10]}@example.org",
                "password": "correct horse battery",
                "name": "Session Tester",
            }
        },
    )
    return body["data"]["register"]["token"], body["data"]["register"]["account"]["id"]


def test_a_session_revoked_elsewhere_is_refused_within_the_event_latency(platform):
    token, account_id = register(platform)
    bearer = {"Authorization": f"Bearer {token}"}
    assert gql(platform, VIEWER, headers=bearer)["data"]["viewer"]["account"]["id"] == account_id
    before = platform.rpc_calls("accounts.authenticate")
    for _ in range(5):
        assert gql(platform, VIEWER, headers=bearer)["data"]["viewer"]["account"]["id"] == account_id
    assert platform.rpc_calls("accounts.authenticate") == before  # checked here, not by accounts

    async def logout_behind_the_gateway() -> None:
        # Not the gateway's logout mutation (that forgets the session in its own process):
        # only accounts' session_revoked event can tell the gateway.
        async with RpcClient(platform.env["AMQP_URI"], timeout=10, caller="e2e") as rpc:
            assert await rpc.call("accounts", "logout", request={"token": token}) is True

    asyncio.run(logout_behind_the_gateway())
    revoked_at = time.monotonic()
    while True:
        body = gql(platform, VIEWER, headers=bearer)
        if "errors" in body:
            break
        assert time.monotonic() - revoked_at < EVENT_LATENCY, "the revoked session was still accepted"
        time.sleep(0.05)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # And it stays refused: the gateway asks accounts again, which says no.
    assert gql(platform, VIEWER, headers=bearer)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_role_given_by_make_admin_is_seen_within_the_event_latency(platform):
    """`make admin` writes the store from a process of its own: only its role_changed event
    (relayed by the accounts service) tells the gateway, which kept the session as a MEMBER's."""
    token, _ = register(platform)
    bearer = {"Authorization": f"Bearer {token}"}
    role = "{ viewer { account { role } } }"
    assert gql(platform, role, headers=bearer)["data"]["viewer"]["account"]["role"] == "MEMBER"
    email = gql(platform, "{ viewer { account { email } } }", headers=bearer)["data"]["viewer"]["account"]["email"]
    subprocess.run(
        [sys.executable, "-m", "accounts.cli", "make-admin", email], env=platform.env, check=True, capture_output=True
    )
    promoted_at = time.monotonic()
    while gql(platform, role, headers=bearer)["data"]["viewer"]["account"]["role"] != "ADMIN":
        assert time.monotonic() - promoted_at < EVENT_LATENCY + 2, "the gateway still keeps the MEMBER's session"
        time.sleep(0.05)


def test_a_logout_through_the_gateway_is_refused_at_once(platform):
    token, _ = register(platform)
    bearer = {"Authorization": f"Bearer {token}"}
    assert "errors" not in gql(platform, VIEWER, headers=bearer)
    assert gql(platform, "mutation { logout }", headers=bearer)["data"] == {"logout": True}
    assert gql(platform, VIEWER, headers=bearer)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def _metering_state(platform) -> tuple:
    """Every row of the metering store, and its SQLite files' sizes and modification times."""
    data = Path(platform.env["DATA_DIR"])
    files = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(data.glob("metering.sqlite3*")))
    with sqlite3.connect(data / "metering.sqlite3") as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        rows = tuple((t, tuple(db.execute(f'SELECT * FROM "{t}" ORDER BY 1'))) for t in tables)
    return files, rows


def _settled(platform, seconds: float = 1.5, timeout: float = 15.0) -> tuple:
    """The metering store's state once nothing has changed for `seconds` (events relayed)."""
    deadline = time.monotonic() + timeout
    state = _metering_state(platform)
    while time.monotonic() < deadline:
        time.sleep(seconds)
        now = _metering_state(platform)
        if now == state:
            return state
        state = now
    pytest.fail("the metering store kept changing")


def test_a_guest_s_repeat_view_writes_nothing(platform):
    with httpx.Client(base_url=platform.url, timeout=30) as guest:
        first = gql(platform, PAGE, {"c": "K22.0"}, client=guest)  # the guest cookie comes with it
        assert first["data"]["code"]["access"] == {"granted": True}
        assert guest.cookies.get("medcode_guest")
        before = _settled(platform)
        assert any(t == "metering_views" and rows for t, rows in before[1])  # the first view was written
        calls = platform.rpc_calls("metering.check_views")
        for spelled in ("K22.0", "k220", "K22.0"):
            again = gql(platform, PAGE, {"c": spelled}, client=guest)
            assert again["data"]["code"]["access"] == {"granted": True}  # seen: free
            assert again["data"]["code"]["notes"] is not None
        assert platform.rpc_calls("metering.check_views") == calls + 3  # metering was asked each time...
        time.sleep(1.5)  # ...and had its relay tick
        assert _metering_state(platform) == before  # ...and wrote nothing


def test_after_a_broker_disconnect_the_gateway_asks_accounts_again(platform):
    """Events sent while the gateway's connection was down are lost with its queues, so
    what it kept is forgotten: the next request is checked with accounts."""
    token, account_id = register(platform)
    bearer = {"Authorization": f"Bearer {token}"}
    for _ in range(3):
        assert gql(platform, VIEWER, headers=bearer)["data"]["viewer"]["account"]["id"] == account_id
    kept = platform.rpc_calls("accounts.authenticate")
    assert platform.vhost.close_connections(wait=30, at_least=6) >= 6
    deadline = time.monotonic() + 90
    while True:  # until the gateway and accounts are back
        try:
            body = gql(platform, VIEWER, headers=bearer)
            if "errors" not in body:
                break
        except (httpx.HTTPError, AssertionError):
            pass
        assert time.monotonic() < deadline, "the platform did not recover"
        time.sleep(0.5)
    assert body["data"]["viewer"]["account"]["id"] == account_id
    assert platform.rpc_calls("accounts.authenticate") > kept  # asked again, not taken from before
