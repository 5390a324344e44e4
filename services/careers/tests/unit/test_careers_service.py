"""The careers service's entrypoints are thin: a request is validated against its contract
model before the domain sees it, results go out as JSON primitives, events are relayed
after a change, and a malformed event is parked (Unprocessable) without touching the domain."""

from __future__ import annotations

import pytest
from nameko.testing.services import worker_factory

from careers.service import CareersService
from medcode_common.event_handlers import Unprocessable
from medcode_contracts import careers as c
from medcode_contracts.errors import BadRequest

JOB = {
    "title": "Coder",
    "company": "Made-up",
    "location": "Austin, TX",
    "remote": False,
    "employment_type": "Full-time",
    "certifications": ["CPC"],
    "description": "A made-up description long enough to be accepted.",
}


def test_post_job_validates_calls_the_domain_and_relays_the_event():
    service = worker_factory(CareersService)
    posted = c.Job.model_validate(
        {
            **JOB,
            "id": "j",
            "employer_id": "e",
            "posted_at": "2026-06-01T00:00:00+00:00",
            "expires_on": "2026-07-01",
            "status": "published",
        }
    )
    service.careers.post_job.return_value = posted
    result = service.post_job({"employer_id": "e", "employer_role": "EMPLOYER", "job": JOB})
    assert result["id"] == "j" and result["expires_on"] == "2026-07-01"
    [(request,), _] = service.careers.post_job.call_args
    assert isinstance(request, c.PostJobRequest)
    service.events.after_commit.assert_called_once()


@pytest.mark.parametrize(
    "request_, message",
    [
        (
            {"employer_id": "e", "employer_role": "EMPLOYER", "job": {**JOB, "salary_min": 9, "salary_max": 1}},
            "salary_min must not be above salary_max",
        ),
        ({"employer_id": "e", "employer_role": "BOSS", "job": JOB}, "employer_role"),
        ("not an object", "expected an object"),
    ],
)
def test_bad_requests_never_reach_the_domain(request_, message):
    service = worker_factory(CareersService)
    with pytest.raises(BadRequest, match=message):
        service.post_job(request_)
    service.careers.post_job.assert_not_called()


def test_a_malformed_event_is_unprocessable_so_it_is_parked_not_retried():
    service = worker_factory(CareersService)
    with pytest.raises(Unprocessable):
        service.handle_user_deleted({"schema": "accounts.user_deleted/1"})
    with pytest.raises(Unprocessable):
        service.handle_job_posted({"job_id": 3})
    service.careers.on_user_deleted.assert_not_called()
    service.careers.on_job_posted.assert_not_called()


def test_a_new_alert_is_sent_at_once():
    service = worker_factory(CareersService)
    service.careers.on_job_posted.return_value = 1
    service.handle_job_posted(
        {
            "event_id": "5b0f0a56-8c8e-4b8e-9d7e-000000000002",
            "schema": "careers.job_posted/1",
            "occurred_at": "2026-06-01T00:00:00+00:00",
            "traceparent": None,
            "job_id": "j",
            "employer_id": "e",
            "title": "t",
            "location": "l",
            "remote": True,
            "certifications": [],
        }
    )
    service.careers.send_due_alerts.assert_called_once_with(service.mail)
