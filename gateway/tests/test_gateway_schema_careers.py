"""Careers resolvers with a fake RPC client and a real request context: roles checked
before any RPC, input refused with the client's field names, the caller's identity taken
from the token (never from the input), applications only for the posting employer,
fit from the career profile. Jobs are made up."""

from __future__ import annotations

import pytest

from gateway.schema.careers import JobFeed, job_fit
from gateway.testing import RequestFakeRpc as FakeRpc
from gateway.testing import make_request, schema_context
from medcode_contracts import careers as contract
from medcode_contracts import events

BEARER = {"Authorization": "Bearer t"}


def account(user_id: str, role: str) -> dict:
    return {
        "id": user_id,
        "email": f"{user_id}@example.org",
        "name": user_id.title(),
        "plan": "FREE",
        "role": role,
        "created_at": "2026-01-01T00:00:00+00:00",
    }


EMPLOYER = account("emp-1", "EMPLOYER")
MEMBER = account("coder-1", "MEMBER")
JOB = {
    "id": "job-1",
    "employer_id": "emp-1",
    "title": "Remote Risk Adjustment Coder",
    "company": "Made-up Health",
    "location": "Anywhere",
    "remote": True,
    "employment_type": "Full-time",
    "salary_min": 50000,
    "salary_max": 60000,
    "certifications": ["CRC", "CPC"],
    "specialty": "Risk adjustment",
    "description": "Made-up description of a risk adjustment coding job.",
    "posted_at": "2026-12-01T10:00:00+00:00",
    "expires_on": "2027-01-30",
    "status": "published",
    "sample": False,
}
POST = """mutation($input: JobInput!) { postJob(input: $input) { id title employmentType } }"""
JOB_INPUT = {
    "title": "Coder",
    "company": "Made-up Health",
    "location": "Austin, TX",
    "remote": False,
    "employmentType": "full time",
    "certifications": ["cpc"],
    "description": "A made-up description that is long enough to pass.",
}


async def run(schema, gateway_auth, query, fake, variables=None, headers=None):
    context = schema_context(gateway_auth, fake, make_request(headers))
    result = await schema.execute(query, variable_values=variables, context_value=context)
    return result.data, [e.formatted for e in result.errors or []]


async def test_an_employer_posts_as_itself(schema, gateway_auth):
    fake = FakeRpc(
        {"accounts.authenticate": EMPLOYER, "careers.post_job": lambda r: {**JOB, "title": r["job"]["title"]}}
    )
    data, errors = await run(schema, gateway_auth, POST, fake, {"input": JOB_INPUT}, BEARER)
    assert errors == []
    [sent] = fake.sent("careers.post_job")
    assert sent["employer_id"] == "emp-1" and sent["employer_role"] == "EMPLOYER"
    assert sent["job"]["employment_type"] == "Full-time" and sent["job"]["certifications"] == ["CPC"]
    assert data["postJob"]["title"] == "Coder"


@pytest.mark.parametrize("who, code", [(MEMBER, "FORBIDDEN"), (None, "UNAUTHENTICATED")])
async def test_only_employers_post(schema, gateway_auth, who, code):
    fake = FakeRpc({"accounts.authenticate": who} if who else {})
    _, errors = await run(schema, gateway_auth, POST, fake, {"input": JOB_INPUT}, BEARER if who else None)
    assert errors[0]["extensions"] == {"code": code}
    assert fake.sent("careers.post_job") == []


@pytest.mark.parametrize(
    "change, message",
    [
        ({"salaryMin": 70000, "salaryMax": 60000}, "salaryMin must not be above salaryMax"),
        ({"salaryMin": -5}, "salaryMin"),
        ({"certifications": ["CPC", "XYZ"]}, "unknown certification 'XYZ'"),
        ({"description": "<script>alert(1)</script> and more words to be long enough"}, "plain text"),
        ({"description": "too short"}, "description"),
        ({"title": "x" * 121}, "title"),
        ({"employmentType": "forever"}, "unknown employment type"),
        ({"expiresOn": "not-a-date"}, "Date"),
    ],
)
async def test_bad_job_input_is_refused_before_any_rpc(schema, gateway_auth, change, message):
    fake = FakeRpc({"accounts.authenticate": EMPLOYER})
    data, errors = await run(schema, gateway_auth, POST, fake, {"input": {**JOB_INPUT, **change}}, BEARER)
    assert message in errors[0]["message"], errors
    assert fake.sent("careers.post_job") == []


async def test_only_members_apply_and_the_applicant_comes_from_the_token(schema, gateway_auth):
    apply = 'mutation { applyToJob(input: {jobId: "job-1", coverLetter: "Hello"}) { id status } }'
    fake = FakeRpc({"accounts.authenticate": EMPLOYER})
    _, errors = await run(schema, gateway_auth, apply, fake, headers=BEARER)
    assert errors[0]["extensions"] == {"code": "FORBIDDEN"}
    application = {
        "id": "a-1",
        "job_id": "job-1",
        "applicant_id": "coder-1",
        "applicant_name": "Coder-1",
        "applicant_email": "coder-1@example.org",
        "status": "submitted",
        "submitted_at": "2026-12-02T10:00:00+00:00",
        "cover_letter": "Hello",
        "resume_text": None,
    }
    fake = FakeRpc({"accounts.authenticate": MEMBER, "careers.apply": application})
    data, errors = await run(schema, gateway_auth, apply, fake, headers=BEARER)
    assert errors == [] and data["applyToJob"] == {"id": "a-1", "status": "submitted"}
    [sent] = fake.sent("careers.apply")
    assert (sent["applicant_id"], sent["applicant_email"]) == ("coder-1", "coder-1@example.org")


@pytest.mark.parametrize(
    "caller, visible", [(EMPLOYER, True), (account("emp-2", "EMPLOYER"), False), (MEMBER, False), (None, False)]
)
async def test_applications_only_for_the_employer_who_posted(schema, gateway_auth, caller, visible):
    answers = {"careers.get_jobs": [JOB], "careers.list_applications": {"job-1": []}}
    if caller:
        answers.update({"accounts.authenticate": caller, "careers.get_profile": {"user_id": caller["id"]}})
    fake = FakeRpc(answers)
    data, errors = await run(
        schema,
        gateway_auth,
        '{ job(id: "job-1") { id applications { id } } }',
        fake,
        headers=BEARER if caller else None,
    )
    assert errors == []
    assert data["job"]["applications"] == ([] if visible else None)
    assert len(fake.sent("careers.list_applications")) == (1 if visible else 0)


async def test_fit_says_which_certifications_the_coder_holds(schema, gateway_auth):
    fake = FakeRpc(
        {
            "accounts.authenticate": MEMBER,
            "careers.get_jobs": lambda r: [JOB] * len(r["ids"]),
            "careers.get_profile": {
                "user_id": "coder-1",
                "certifications": ["CPC"],
                "specialty": "Risk adjustment coding",
            },
        }
    )
    data, errors = await run(
        schema,
        gateway_auth,
        '{ a: job(id: "job-1") { fit { held missing qualified '
        'specialtyMatch } } b: job(id: "job-2") { fit { held } } }',
        fake,
        headers=BEARER,
    )
    assert errors == []
    assert data["a"]["fit"] == {"held": ["CPC"], "missing": ["CRC"], "qualified": True, "specialtyMatch": True}
    assert fake.calls["careers.get_profile"] == 1 and fake.calls["careers.get_jobs"] == 1


def test_fit_without_the_certifications():
    fit = job_fit(
        ["CCS"], "Inpatient", contract.CareerProfile(user_id="u", certifications=["CPC"], specialty="Cardiology")
    )
    assert (fit.held, fit.missing, fit.qualified, fit.specialty_match) == ([], ["CCS"], False, False)


async def test_bad_filter_and_cursor_are_refused(schema, gateway_auth):
    fake = FakeRpc({})
    _, errors = await run(schema, gateway_auth, "{ jobs(filter: {postedWithinDays: 0}) { totalCount } }", fake)
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"} and "filter.postedWithinDays" in errors[0]["message"]
    _, errors = await run(schema, gateway_auth, "{ jobs(first: 500) { totalCount } }", fake)
    assert "first" in errors[0]["message"]
    assert fake.requests == []


async def test_saved_search_filter_reads_as_the_client_wrote_it(schema, gateway_auth):
    saved = {
        "id": "s-1",
        "filter": {"query": "coder", "min_salary": 50000},
        "alerts": True,
        "created_at": "2026-12-02T10:00:00+00:00",
    }
    fake = FakeRpc({"accounts.authenticate": MEMBER, "careers.save_search": saved})
    data, errors = await run(
        schema,
        gateway_auth,
        'mutation { saveJobSearch(filter: {query: "coder", minSalary: 50000}) { id filter alerts } }',
        fake,
        headers=BEARER,
    )
    assert errors == []
    assert data["saveJobSearch"] == {"id": "s-1", "filter": '{"minSalary":50000,"query":"coder"}', "alerts": True}
    [sent] = fake.sent("careers.save_search")
    assert sent["email"] == "coder-1@example.org" and sent["user_id"] == "coder-1"


async def test_job_feed_sends_a_redelivered_event_once_and_only_to_matching_subscribers():
    fake = FakeRpc(
        {"careers.match_job": lambda r: {"job": JOB, "matches": [f.get("remote") is True for f in r["filters"]]}}
    )
    feed = JobFeed(fake)
    remote, on_site = feed.add(contract.JobFilter(remote=True)), feed.add(contract.JobFilter(remote=False))
    event = events.JobPosted(
        job_id="job-1", employer_id="emp-1", title="t", location="l", remote=True, certifications=[]
    ).payload()
    await feed.on_event(event)
    await feed.on_event(event)
    assert remote.qsize() == 1 and on_site.qsize() == 0
    assert fake.calls["careers.match_job"] == 1
