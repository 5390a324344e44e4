"""The job board end to end, through the gateway's HTTP and websocket endpoints, on a
platform of its own (fresh careers store, a development mail relay on a free port, the
expiry timer every second, no sample data unless a test posts it).

Accounts are real (register with role EMPLOYER or MEMBER); mail is read from the relay's
Maildir; a redelivery of `job_posted` is made by publishing the very payload the careers
service sent (read from its outbox) again on `careers.events`.
"""

from __future__ import annotations

import json
import mailbox
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta

import httpx
import pytest
from kombu import Connection, Exchange, Producer
from websockets.sync.client import connect

from gateway.testing import free_port
from medcode_common.mail import start_dev_relay

JOB_FIELDS = (
    "id title company location remote employmentType salaryMin salaryMax certifications specialty "
    "description postedAt expiresOn status sample"
)
POST = f"mutation($input: JobInput!) {{ postJob(input: $input) {{ {JOB_FIELDS} }} }}"
SEARCH = """query($filter: JobFilter, $first: Int, $after: String) {
  jobs(filter: $filter, first: $first, after: $after) {
    totalCount edges { cursor node { id title } } pageInfo { hasNextPage endCursor } } }"""
APPLY = "mutation($input: ApplicationInput!) { applyToJob(input: $input) { id status submittedAt job { id } } }"


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    port = free_port()
    directory = tmp_path_factory.mktemp("careers-mail") / "outbox"
    controller = start_dev_relay(directory, "127.0.0.1", port)
    yield port, directory
    controller.stop()


@pytest.fixture(scope="module")
def board(stack, make_own_stack, relay):
    port, _ = relay
    with make_own_stack(
        stack,
        "e2e-careers",
        SMTP_RELAY=f"127.0.0.1:{port}",
        CAREERS_DEMO_DATA="false",
        CAREERS_EXPIRY_INTERVAL="1",
        CAREERS_ALERT_RETRY_SECONDS="1",
        CAREERS_PUBLIC_URL="http://jobs.example.invalid",
    ) as own:
        yield own


def mails(relay) -> list:
    return list(mailbox.Maildir(relay[1], create=True))


class User:
    def __init__(self, board, role: str):
        self.board = board
        self.email = f"{role.lower()}-{uuid.uuid4().hex[:8]}@example.org"
        data = self.gql(
            "mutation($e: String!, $r: Role!) { register(input: {email: $e, password: "
            '"a long passphrase", name: "E2E", role: $r}) { token account { id } } }',
            {"e": self.email, "r": role},
            token=None,
        )
        self.token, self.id = data["register"]["token"], data["register"]["account"]["id"]

    def post(self, query: str, variables: dict | None = None, token: str | None | bool = True) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"} if token is True else {}
        response = httpx.post(
            f"{self.board.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def gql(self, query: str, variables: dict | None = None, token: str | None | bool = True) -> dict:
        body = self.post(query, variables, token)
        assert not body.get("errors"), body
        return body["data"]

    def error(self, query: str, variables: dict | None = None) -> tuple[str, str]:
        body = self.post(query, variables)
        assert body.get("errors"), body
        return body["errors"][0]["extensions"]["code"], body["errors"][0]["message"]


@pytest.fixture(scope="module")
def employer(board):
    return User(board, "EMPLOYER")


@pytest.fixture
def coder(board):
    return User(board, "MEMBER")


def job_input(word: str, **overrides) -> dict:
    fields = {
        "title": f"Outpatient Coder {word}",
        "company": "E2E Clinic",
        "location": "Boise, ID",
        "remote": True,
        "employmentType": "Full-time",
        "salaryMin": 51000,
        "salaryMax": 59000,
        "certifications": ["COC"],
        "specialty": "Outpatient surgery",
        "description": f"Code outpatient surgery encounters ({word}) with CPT and ICD-10-CM.",
    }
    fields.update(overrides)
    return fields


def post_job(employer: User, word: str, **overrides) -> dict:
    return employer.gql(POST, {"input": job_input(word, **overrides)})["postJob"]


def found(user: User, **flt) -> list[str]:
    data = user.gql(SEARCH, {"filter": flt, "first": 100})["jobs"]
    return [edge["node"]["id"] for edge in data["edges"]]


def word() -> str:
    return "zq" + uuid.uuid4().hex[:8]


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def careers_db(board) -> sqlite3.Connection:
    return sqlite3.connect(board.workdir / "data" / "careers.sqlite3", timeout=30)


def republish_job_posted(board, job_id: str) -> None:
    """The broker delivering `job_posted` again: the same payload, event id and all."""
    with careers_db(board) as db:
        [(payload,)] = db.execute(
            "SELECT payload FROM careers_outbox WHERE event_type = 'job_posted' AND payload LIKE ?", (f"%{job_id}%",)
        ).fetchall()
    with Connection(board.env["AMQP_URI"]) as connection:
        Producer(connection).publish(
            json.loads(payload),
            exchange=Exchange("careers.events", type="topic", durable=True),
            routing_key="job_posted",
            serializer="json",
            declare=[],
        )


# -- post and find -------------------------------------------------------------------------
def test_an_employer_posts_a_job_and_a_coder_finds_it_by_each_filter(employer, coder):
    w = word()
    job = post_job(employer, w)
    assert job["status"] == "published" and job["sample"] is False and job["remote"] is True
    other = post_job(
        employer,
        w,
        title=f"Inpatient Coder {w}",
        location="Reno, NV",
        remote=False,
        certifications=["CCS"],
        salaryMin=30000,
        salaryMax=40000,
        specialty="Inpatient",
        description=f"Code inpatient stays ({w}) with ICD-10-PCS.",
    )
    both = {job["id"], other["id"]}
    assert set(found(coder, query=w)) == both
    assert found(coder, query=f"outpatient {w}") == [job["id"]]
    assert found(coder, query=w, location="Boise") == [job["id"]]
    assert found(coder, query=w, remote=True) == [job["id"]]
    assert found(coder, query=w, remote=False) == [other["id"]]
    assert found(coder, query=w, certifications=["COC"]) == [job["id"]]
    assert found(coder, query=w, minSalary=50000) == [job["id"]]
    assert set(found(coder, query=w, postedWithinDays=1)) == both
    assert found(coder, location="Boise", remote=True, certifications=["COC"], minSalary=55000, postedWithinDays=1) == [
        job["id"]
    ]
    # A guest finds it too, and one page at a time with a total count.
    data = coder.gql(SEARCH, {"filter": {"query": w}, "first": 1}, token=None)["jobs"]
    assert data["totalCount"] == 2 and data["pageInfo"]["hasNextPage"] is True
    rest = coder.gql(SEARCH, {"filter": {"query": w}, "first": 1, "after": data["pageInfo"]["endCursor"]})["jobs"]
    assert {data["edges"][0]["node"]["id"], rest["edges"][0]["node"]["id"]} == both
    assert rest["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize(
    "change, message",
    [
        ({"salaryMin": 90000, "salaryMax": 10000}, "salaryMin must not be above salaryMax"),
        ({"expiresOn": "2020-01-01"}, "must be a date in the future"),
        ({"certifications": ["CPC", "WIZARD"]}, "unknown certification"),
        ({"description": "<b>Great</b> job, apply now! <script>steal()</script>"}, "plain text"),
        ({"title": "T" * 200}, "title"),
    ],
)
def test_bad_job_input_gets_a_clear_error(employer, change, message):
    code, text = employer.error(POST, {"input": job_input(word(), **change)})
    assert code == "BAD_USER_INPUT" and message in text


def test_a_member_cannot_post(coder):
    code, text = coder.error(POST, {"input": job_input(word())})
    assert code == "FORBIDDEN" and "employer" in text.lower()


# -- apply -----------------------------------------------------------------------------------
def test_a_coder_applies_once_and_a_second_application_is_refused(employer, coder):
    job = post_job(employer, word())
    application = coder.gql(APPLY, {"input": {"jobId": job["id"], "coverLetter": "Five years of ASC coding."}})
    assert application["applyToJob"]["status"] == "submitted"
    assert application["applyToJob"]["job"]["id"] == job["id"]
    code, text = coder.error(APPLY, {"input": {"jobId": job["id"], "coverLetter": "Again!"}})
    assert code == "CONFLICT" and "already applied" in text
    code, _ = employer.error(APPLY, {"input": {"jobId": job["id"], "coverLetter": "Me too"}})
    assert code == "FORBIDDEN"


def test_only_the_employer_who_posted_sees_the_applications(board, employer, coder):
    job = post_job(employer, word())
    coder.gql(APPLY, {"input": {"jobId": job["id"], "coverLetter": "I hold a COC.", "resumeText": "COC, 2019"}})
    query = (
        "query($id: ID!) { job(id: $id) { id applications { id status coverLetter resumeText "
        "applicantEmail job { id } } } }"
    )
    [seen] = employer.gql(query, {"id": job["id"]})["job"]["applications"]
    assert seen["coverLetter"] == "I hold a COC." and seen["applicantEmail"] == coder.email
    assert User(board, "EMPLOYER").gql(query, {"id": job["id"]})["job"]["applications"] is None
    assert coder.gql(query, {"id": job["id"]})["job"]["applications"] is None
    assert coder.gql(query, {"id": job["id"]}, token=None)["job"]["applications"] is None


def test_fit_shows_which_of_the_jobs_certifications_the_coder_holds(employer, coder):
    w = word()
    post_job(employer, w, certifications=["COC", "CPC", "CCS"], specialty="Outpatient surgery")
    coder.gql(
        'mutation { setCareerProfile(input: {certifications: ["cpc", "CRC"], specialty: "Surgery"}) '
        "{ certifications } }"
    )
    query = (
        "query($f: JobFilter) { jobs(filter: $f) { edges { node { fit { held missing qualified specialtyMatch } } } } }"
    )
    [edge] = coder.gql(query, {"f": {"query": w}})["jobs"]["edges"]
    assert edge["node"]["fit"] == {
        "held": ["CPC"],
        "missing": ["COC", "CCS"],
        "qualified": True,
        "specialtyMatch": True,
    }
    [edge] = coder.gql(query, {"f": {"query": w}}, token=None)["jobs"]["edges"]
    assert edge["node"]["fit"] is None


# -- alerts ----------------------------------------------------------------------------------
def test_a_saved_search_gets_exactly_one_alert_per_matching_job_even_when_the_event_comes_twice(
    board, relay, employer, coder
):
    w = word()
    saved = coder.gql(
        "mutation($f: JobFilter!) { saveJobSearch(filter: $f) { id filter alerts } }",
        {"f": {"query": w, "remote": True}},
    )["saveJobSearch"]
    assert saved["alerts"] is True and json.loads(saved["filter"]) == {"query": w, "remote": True}
    before = len(mails(relay))
    with connect(f"ws://127.0.0.1:{board.port}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {
                        "query": "subscription($f: JobFilter) { jobPosted(filter: $f) { id title } }",
                        "variables": {"f": {"query": w}},
                    },
                }
            )
        )
        time.sleep(1.5)  # the subscription is registered before the job is posted
        post_job(employer, w, remote=False, title=f"On-site Coder {w}")  # matches the feed, not the search
        job = post_job(employer, w)  # matches both
        live = [json.loads(ws.recv(timeout=20)) for _ in range(2)]
        assert [m["payload"]["data"]["jobPosted"]["title"] for m in live] == [f"On-site Coder {w}", job["title"]]
        wait_for(lambda: len(mails(relay)) == before + 1, what="the alert mail")
        republish_job_posted(board, job["id"])
        with pytest.raises(TimeoutError):
            ws.recv(timeout=4)  # no second live event for the redelivery...
    new = [m for m in mails(relay) if w in m.get_payload()]
    assert len(new) == 1  # ...and no second mail
    [mail] = new
    assert mail["To"] == coder.email and job["title"] in mail["Subject"]
    link = mail["List-Unsubscribe"].strip("<>")
    assert link.startswith("http://jobs.example.invalid/careers/unsubscribe?token=")

    # The link (on this gateway) shows a button; pressing it turns this search's alerts off.
    local = link.replace("http://jobs.example.invalid", board.url)
    assert "Turn off" in httpx.get(local, timeout=10).text
    assert "Alerts are off" in httpx.post(local, timeout=10).text
    searches = coder.gql("{ myJobSearches { id alerts } }")["myJobSearches"]
    assert {s["id"]: s["alerts"] for s in searches}[saved["id"]] is False
    post_job(employer, w, title=f"Another Remote Coder {w}")
    time.sleep(3)
    assert len([m for m in mails(relay) if w in m.get_payload()]) == 1


# -- expiry and deletion -------------------------------------------------------------------------
def test_expired_jobs_disappear_from_search(board, employer, coder):
    w = word()
    job = post_job(employer, w, expiresOn=(date.today() + timedelta(days=2)).isoformat())
    assert found(coder, query=w) == [job["id"]]
    # Time passes: the job's last listed day was yesterday (written into its database row).
    with careers_db(board) as db:
        db.execute(
            "UPDATE careers_jobs SET expires_on = ? WHERE id = ?",
            ((date.today() - timedelta(days=1)).isoformat(), job["id"]),
        )
    status = "query($id: ID!) { job(id: $id) { status } }"
    wait_for(lambda: coder.gql(status, {"id": job["id"]})["job"]["status"] == "expired", what="the expiry timer")
    assert found(coder, query=w) == []
    code, text = coder.error(APPLY, {"input": {"jobId": job["id"], "coverLetter": "Late"}})
    assert code == "BAD_USER_INPUT" and "no longer open" in text


def test_an_employer_closes_a_job(employer, coder):
    w = word()
    job = post_job(employer, w)
    closed = employer.gql("mutation($id: ID!) { closeJob(id: $id) { status } }", {"id": job["id"]})
    assert closed["closeJob"]["status"] == "closed" and found(coder, query=w) == []


def test_deleting_an_account_removes_its_applications(board, employer, coder):
    job = post_job(employer, word())
    coder.gql(APPLY, {"input": {"jobId": job["id"], "coverLetter": "Please delete me later."}})
    query = "query($id: ID!) { job(id: $id) { applications { id } } }"
    assert len(employer.gql(query, {"id": job["id"]})["job"]["applications"]) == 1
    assert coder.gql("mutation { deleteAccount }")["deleteAccount"] is True
    wait_for(
        lambda: employer.gql(query, {"id": job["id"]})["job"]["applications"] == [],
        what="user_deleted to reach careers",
    )


def test_demo_data_posts_sample_jobs_once(board, coder):
    def run():
        return subprocess.run(
            [sys.executable, "-m", "careers.cli", "demo-data"],
            env=board.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    first = run()
    assert first.returncode == 0 and "through the careers service" in first.stdout, first.stderr[-2000:]
    assert "on the board already" in run().stdout
    data = coder.gql(
        '{ jobs(filter: {query: "sample listing"}, first: 100) { totalCount edges { node { sample company } } } }'
    )
    assert data["jobs"]["totalCount"] >= 10
    assert all(e["node"]["sample"] and "sample data" in e["node"]["company"] for e in data["jobs"]["edges"])


def test_a_fresh_platform_posts_the_sample_jobs_on_its_empty_board(stack):
    """The session stack starts as `make run` does (CAREERS_DEMO_DATA on by default)."""
    body = stack.graphql("{ jobs(first: 100) { totalCount edges { node { sample } } } }")
    assert body["data"]["jobs"]["totalCount"] == 12
    assert all(edge["node"]["sample"] for edge in body["data"]["jobs"]["edges"])
