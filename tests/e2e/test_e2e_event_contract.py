"""The event contract against what the running services really emit: every message on
the platform's `<service>.events` exchanges validates against its published schema
(docs/asyncapi.json is generated from the same schemas), and its routing key and exchange
match the schema it names."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from kombu import Connection, Exchange, Queue

from medcode_contracts import events

SOURCES = ("accounts", "metering", "codes", "assistant", "careers")
EXPECTED = {
    "accounts.user_registered/1",
    "accounts.plan_changed/1",
    "accounts.role_changed/1",
    "accounts.user_deleted/1",
    "metering.view_recorded/1",
    "metering.quota_exhausted/1",
    "assistant.question_received/1",
    "assistant.answer_ready/1",
    "careers.job_posted/1",
    "careers.application_submitted/1",
    "careers.job_expired/1",
}


@pytest.fixture(scope="module")
def platform(stack, make_own_stack):
    with make_own_stack(stack, "e2e-events", CAREERS_EXPIRY_INTERVAL="1") as own:
        yield own


def gql(client: httpx.Client, query: str, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = client.post("/graphql", json={"query": query}, headers=headers).json()
    assert not body.get("errors"), body
    return body["data"]


def careers_events(platform, member: httpx.Client, member_token: str) -> None:
    """job_posted, application_submitted, and job_expired (its date moved into the past in
    the careers database, as time would)."""
    email = f"employer-{uuid.uuid4().hex[:8]}@example.org"
    data = gql(
        member,
        'mutation { register(input: {email: "%s", password: "long enough secret", name: "E", '
        "role: EMPLOYER}) { token } }" % email,
    )
    job = gql(
        member,
        'mutation { postJob(input: {title: "Event Coder", company: "Made-up", location: "Boise, ID", '
        'remote: true, employmentType: "Full-time", certifications: ["CPC"], '
        'description: "A made-up job for the event contract test."}) { id } }',
        data["register"]["token"],
    )["postJob"]
    gql(member, 'mutation { applyToJob(input: {jobId: "%s", coverLetter: "Hi"}) { id } }' % job["id"], member_token)
    with sqlite3.connect(platform.workdir / "data" / "careers.sqlite3", timeout=30) as db:
        db.execute("UPDATE careers_jobs SET expires_on = '2000-01-01' WHERE id = ?", (job["id"],))


def test_what_the_services_emit_matches_the_published_schemas(platform):
    with Connection(platform.env["AMQP_URI"]) as connection:
        channel = connection.channel()
        queues = [
            Queue(
                f"contract-listener-{source}-{uuid.uuid4().hex[:6]}",
                Exchange(f"{source}.events", type="topic", durable=True),
                routing_key="#",
                channel=channel,
                auto_delete=True,
            )
            for source in SOURCES
        ]
        for queue in queues:
            queue.declare()

        with httpx.Client(base_url=platform.url, timeout=30) as guest:
            # A view is spent by asking for a premium section (the descriptor alone is free).
            gql(guest, '{ code(system: ICD10CM, code: "K22.0") { code layTerms } }')  # view_recorded
            gql(guest, '{ code(system: ICD10CM, code: "I10") { code layTerms } }')  # quota_exhausted
        email = f"events-{uuid.uuid4().hex[:8]}@example.org"
        with httpx.Client(base_url=platform.url, timeout=30) as member:
            data = gql(
                member,
                'mutation { register(input: {email: "%s", password: "long enough secret", '
                'name: "E"}) { token account { id } } }' % email,
            )  # user_registered
            token, account_id = data["register"]["token"], data["register"]["account"]["id"]
            careers_events(platform, member, token)  # while still a MEMBER
            subprocess.run(
                [sys.executable, "-m", "accounts.cli", "make-admin", email],
                env=platform.env,
                check=True,
                capture_output=True,
            )
            gql(member, 'mutation { setPlan(accountId: "%s", plan: PRO) { plan } }' % account_id, token)
            gql(member, 'mutation { ask(input: {question: "Is E11.9 billable?"}) { id } }', token)  # assistant
            gql(member, "mutation { deleteAccount }", token)  # user_deleted

        received: list[tuple[str, str, dict]] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not EXPECTED <= {p.get("schema") for _, _, p in received}:
            for queue in queues:
                message = queue.get(no_ack=True)
                if message is not None:
                    received.append(
                        (message.delivery_info["exchange"], message.delivery_info["routing_key"], message.payload)
                    )
            time.sleep(0.1)

    schemas = {payload.get("schema") for _, _, payload in received}
    assert EXPECTED <= schemas, f"not emitted: {EXPECTED - schemas}"
    for exchange, routing_key, payload in received:
        event = events.parse(payload)  # extra fields (personal data) or missing ones fail here
        assert exchange == f"{event.SOURCE}.events" and routing_key == event.TYPE, (exchange, routing_key)
        assert "password" not in str(payload).lower() and token not in str(payload)
