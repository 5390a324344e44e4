"""What a user submitted survives a restart of any one service or of the broker, and a
request in flight during a crash gets a clear answer, never a hang."""

from __future__ import annotations

import concurrent.futures
import time
import uuid

import httpx
import pytest

PASSWORD = "resilience password 1"
REGISTER = (
    'mutation($e: String!) { register(input: {email: $e, password: "%s", name: "R"}) '
    "{ token account { id } } }" % PASSWORD
)
LOGIN = 'mutation($e: String!) { login(email: $e, password: "%s") { token } }' % PASSWORD
METER = "{ viewer { meter { plan used remaining } } }"
PAGE = '{ code(system: ICD10CM, code: "%s") { code access { granted } } }'


@pytest.fixture(scope="module")
def platform(stack, make_own_stack):
    with make_own_stack(stack, "e2e-resilience", RPC_TIMEOUT="3") as own:
        yield own


def gql(platform, query, variables=None, token=None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{platform.url}/graphql", json={"query": query, "variables": variables or {}}, headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def member_with_one_view(platform) -> tuple[str, str]:
    email = f"r-{uuid.uuid4().hex[:10]}@example.org"
    token = gql(platform, REGISTER, {"e": email})["data"]["register"]["token"]
    assert gql(platform, PAGE % "K22.0", token=token)["data"]["code"]["access"]["granted"] is True
    return email, token


def assert_still_there(platform, email: str) -> None:
    """The account logs in again and its meter still counts the earlier view."""
    body = gql(platform, LOGIN, {"e": email})
    assert not body.get("errors"), body
    token = body["data"]["login"]["token"]
    assert gql(platform, METER, token=token)["data"]["viewer"]["meter"]["used"] == 1
    assert gql(platform, PAGE % "I10", token=token)["data"]["code"]["access"]["granted"] is True


@pytest.mark.parametrize("service", ["accounts", "metering"])
def test_a_service_restart_keeps_accounts_and_views(platform, service):
    email, _ = member_with_one_view(platform)
    with platform.down(service):
        pass  # SIGKILL, then started again
    assert_still_there(platform, email)


def test_the_platform_recovers_when_the_broker_drops_every_connection(platform):
    email, _ = member_with_one_view(platform)
    # every service holds at least one connection, and so does the gateway
    assert platform.vhost.close_connections(wait=30, at_least=6) >= 6
    platform.wait_ready(timeout=90)
    assert_still_there(platform, email)


def test_registrations_in_flight_during_a_crash_get_a_clear_answer(platform):
    emails = [f"f-{uuid.uuid4().hex[:10]}@example.org" for _ in range(12)]
    with concurrent.futures.ThreadPoolExecutor(len(emails)) as pool:
        futures = [pool.submit(gql, platform, REGISTER, {"e": email}) for email in emails]
        time.sleep(0.05)
        platform.kill("accounts")
        answers = [future.result(timeout=60) for future in futures]  # no hang
    platform.start("accounts")
    platform.wait_ready()
    for email, body in zip(emails, answers):
        if body.get("errors"):
            assert [e.get("extensions", {}).get("code") for e in body["errors"]] == ["UNAVAILABLE"], body
        else:  # what succeeded is stored
            assert not gql(platform, LOGIN, {"e": email}).get("errors"), email


def test_with_metering_down_a_page_shows_its_descriptor_and_withholds_the_rest(platform):
    _, token = member_with_one_view(platform)
    with platform.down("metering"):
        body = gql(
            platform,
            '{ code(system: HCPCS, code: "J9035") { title access { granted reason } notes { includes } } }',
            token=token,
        )
    assert not body.get("errors"), body
    page = body["data"]["code"]
    assert page["title"] == "Injection, bevacizumab, 10 mg" and page["notes"] is None
    assert page["access"]["granted"] is False and "cannot be counted" in page["access"]["reason"]
