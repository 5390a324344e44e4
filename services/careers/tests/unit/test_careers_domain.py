"""The job board's rules on a real database (SQLite and PostgreSQL) and the embedded index:
roles, one application per coder and job, expiry, alerts once per saved search and job
(and kept through a relay outage), unsubscribe, account deletion, the index rebuilt from
the database, sample data."""

from __future__ import annotations

from datetime import date

import pytest

from careers import sample_data
from careers.search import JobDocument
from medcode_common.mail import MailRelayUnavailable
from medcode_contracts import careers as c
from medcode_contracts import events
from medcode_contracts.errors import BadRequest, Conflict, Forbidden, NotFound


def job_input(**overrides) -> c.JobInput:
    fields = dict(
        title="Outpatient Coder",
        company="Made-up Clinic",
        location="Austin, TX",
        remote=False,
        employment_type="Full-time",
        salary_min=50000,
        salary_max=60000,
        certifications=["CPC"],
        specialty="Outpatient surgery",
        description="Code outpatient surgery encounters with CPT and ICD-10-CM.",
    )
    fields.update(overrides)
    return c.JobInput(**fields)


def post(board, employer="emp-1", **overrides) -> c.Job:
    return board.post_job(c.PostJobRequest(employer_id=employer, employer_role="EMPLOYER", job=job_input(**overrides)))


def apply(board, job_id, applicant="coder-1", role="MEMBER") -> c.Application:
    return board.apply(
        c.ApplyRequest(
            job_id=job_id,
            applicant_id=applicant,
            applicant_role=role,
            applicant_name="Coder",
            applicant_email=f"{applicant}@example.org",
            cover_letter="I code outpatient surgery.",
        )
    )


def found(board, **flt) -> list[str]:
    return [hit.job.id for hit in board.search(c.SearchJobsRequest(filter=c.JobFilter(**flt), first=100)).hits]


def posted_event(job: c.Job, event_id: str | None = None) -> events.JobPosted:
    fields = dict(
        job_id=job.id,
        employer_id=job.employer_id,
        title=job.title,
        location=job.location,
        remote=job.remote,
        certifications=job.certifications,
    )
    return events.JobPosted(**fields, **({"event_id": event_id} if event_id else {}))


def saved(board, user="coder-1", alerts=True, **flt) -> c.SavedSearch:
    return board.save_search(
        c.SaveSearchRequest(user_id=user, email=f"{user}@example.org", filter=c.JobFilter(**flt), alerts=alerts)
    )


def test_only_employers_post_and_the_job_is_found_at_once(board):
    with pytest.raises(Forbidden):
        board.post_job(c.PostJobRequest(employer_id="m", employer_role="MEMBER", job=job_input()))
    job = post(board)
    assert job.status == "published" and job.expires_on == date(2026, 7, 31)  # 60 days by default
    assert found(board, query="outpatient coders") == [job.id]


@pytest.mark.parametrize(
    "expires, message",
    [(date(2026, 6, 1), "in the future"), (date(2026, 5, 1), "in the future"), (date(2027, 7, 1), "at most 365 days")],
)
def test_expiry_must_be_after_today_and_within_a_year(board, expires, message):
    with pytest.raises(BadRequest, match=message):
        post(board, expires_on=expires)


def test_one_application_per_coder_and_job_and_only_members_apply(board):
    job = post(board)
    first = apply(board, job.id)
    assert first.status == "submitted"
    with pytest.raises(Conflict, match="already applied"):
        apply(board, job.id)
    with pytest.raises(Forbidden):
        apply(board, job.id, applicant="emp-2", role="EMPLOYER")
    with pytest.raises(NotFound):
        apply(board, "no-such-job")
    assert board.store.pending_events() == 2  # job_posted, application_submitted


def test_applications_are_listed_only_for_the_employer_who_posted(board):
    job = post(board)
    apply(board, job.id)
    mine = board.list_applications(c.ListApplicationsRequest(employer_id="emp-1", job_ids=[job.id]))
    assert [a.applicant_id for a in mine[job.id]] == ["coder-1"]
    assert board.list_applications(c.ListApplicationsRequest(employer_id="emp-2", job_ids=[job.id])) == {}


def test_expired_and_closed_jobs_leave_search_and_take_no_applications(board, clock):
    short = post(board, expires_on=date(2026, 6, 3))
    other = post(board, title="Inpatient Coder")
    clock.advance(days=2)
    assert board.expire_due() == []  # the 3rd is still its last listed day
    clock.advance(days=1)
    assert board.expire_due() == [short.id]
    assert board.get_jobs(c.GetJobsRequest(ids=[short.id]))[0].status == "expired"
    assert found(board) == [other.id]
    with pytest.raises(BadRequest, match="no longer open"):
        apply(board, short.id)
    with pytest.raises(Forbidden):
        board.close_job(c.CloseJobRequest(employer_id="emp-2", job_id=other.id))
    assert board.close_job(c.CloseJobRequest(employer_id="emp-1", job_id=other.id)).status == "closed"
    assert found(board) == []


def test_a_job_posted_delivered_twice_queues_one_alert_per_matching_search(board):
    match = saved(board, query="surgery", remote=False)
    saved(board, user="coder-2", remote=True)  # does not match
    saved(board, user="coder-3", alerts=False, query="surgery")  # alerts off
    job = post(board)
    assert board.on_job_posted(posted_event(job)) == 1
    assert board.on_job_posted(posted_event(job)) == 0  # same event again (new id too):
    assert board.on_job_posted(posted_event(job, event_id=None)) == 0
    sent = []
    assert board.send_due_alerts(sent.append) == 1
    [mail] = sent
    assert mail["To"] == "coder-1@example.org" and job.title in mail["Subject"]
    token = mail["List-Unsubscribe"].split("token=")[1].rstrip(">")
    assert f"https://jobs.example.org/careers/unsubscribe?token={token}" in mail.get_content()
    assert board.send_due_alerts(sent.append) == 0
    off = board.unsubscribe(c.UnsubscribeRequest(token=token))
    assert off.id == match.id and off.alerts is False
    assert board.on_job_posted(posted_event(post(board))) == 0
    with pytest.raises(NotFound):
        board.unsubscribe(c.UnsubscribeRequest(token="forged"))


def test_saved_searches_per_account_are_bounded(board, monkeypatch):
    monkeypatch.setattr(c, "MAX_SAVED_SEARCHES", 2)
    saved(board, query="a")
    saved(board, query="b")
    with pytest.raises(BadRequest, match="at most 2 saved searches"):
        saved(board, query="c")
    saved(board, user="someone-else", query="c")


def test_an_event_that_overtakes_the_index_write_still_alerts(board):
    saved(board, query="surgery")
    job = board.store.insert_job("emp-1", job_input(), date(2026, 7, 1), board.clock())  # not indexed yet
    assert board.on_job_posted(posted_event(job)) == 1
    assert found(board, query="surgery") == [job.id]


def test_an_alert_waits_through_a_relay_outage(board, clock):
    saved(board, query="surgery")
    board.on_job_posted(posted_event(post(board)))

    def relay_down(message):
        raise MailRelayUnavailable("relay 127.0.0.1:1 did not accept the message")

    assert board.send_due_alerts(relay_down) == 0
    assert board.store.pending_alerts() == 1
    sent = []
    assert board.send_due_alerts(sent.append) == 0  # not due again yet
    clock.advance(seconds=board.settings.CAREERS_ALERT_RETRY_SECONDS + 1)
    assert board.send_due_alerts(sent.append) == 1 and board.store.pending_alerts() == 0


def test_a_deleted_account_loses_its_applications_searches_and_profile_and_its_jobs_close(board):
    job = post(board)
    own = post(board, employer="coder-1-employer")
    apply(board, job.id)
    saved(board, query="coder")
    board.set_profile(c.SetProfileRequest(user_id="coder-1", certifications=["CPC"], specialty="ED"))
    event = events.UserDeleted(user_id="coder-1")
    assert board.on_user_deleted(event) is True
    assert board.on_user_deleted(event) is False  # redelivered: nothing more to do
    assert board.my_applications(c.UserRequest(user_id="coder-1")) == []
    assert board.my_saved_searches(c.UserRequest(user_id="coder-1")) == []
    assert board.get_profile(c.UserRequest(user_id="coder-1")).certifications == []
    assert board.list_applications(c.ListApplicationsRequest(employer_id="emp-1", job_ids=[job.id])) == {job.id: []}
    assert board.on_user_deleted(events.UserDeleted(user_id="coder-1-employer"))
    assert found(board) == [job.id] and own.id not in found(board)


def test_the_index_is_rebuilt_from_the_database_when_they_disagree(board):
    job = post(board)
    board.index.replace_all([])  # e.g. the index directory was lost
    assert found(board) == []
    assert board.sync_index() is True and found(board) == [job.id]
    assert board.sync_index() is False


def test_sample_jobs_are_posted_once_marked_as_sample(board):
    assert board.post_demo_jobs(only_if_empty=True) == len(sample_data.SAMPLE_JOBS)
    assert board.post_demo_jobs() == 0
    jobs = board.search(c.SearchJobsRequest(first=100)).hits
    assert len(jobs) == len(sample_data.SAMPLE_JOBS)
    assert all(hit.job.sample and hit.job.employer_id == sample_data.EMPLOYER_ID for hit in jobs)


def test_demo_data_is_not_added_to_a_board_with_real_jobs(board):
    post(board)
    assert board.post_demo_jobs(only_if_empty=True) == 0


def test_profile_round_trip(board):
    profile = board.set_profile(
        c.SetProfileRequest(user_id="u", certifications=["cpc", "CRC", "CPC"], specialty="Risk adjustment")
    )
    assert profile.certifications == ["CPC", "CRC"]
    assert board.get_profile(c.UserRequest(user_id="u")) == profile


def test_document_takes_the_top_of_the_salary_range():
    job = c.Job.model_validate(
        {
            **job_input(salary_min=40000, salary_max=None).model_dump(),
            "id": "j",
            "employer_id": "e",
            "posted_at": "2026-06-01T00:00:00+00:00",
            "expires_on": "2026-07-01",
            "status": "published",
        }
    )
    assert JobDocument.of(job).pay == 40000
    assert JobDocument.of(job.model_copy(update={"salary_min": None})).pay == -1
