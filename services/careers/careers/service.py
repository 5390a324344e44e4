"""The `careers` service: the job board.

Thin entrypoints: validate the contract payload, call the domain, relay the events the
change committed, return JSON primitives. Timers expire jobs past their date and send
queued alert mails; handlers queue alerts for new jobs (`job_posted`, our own event, so
an alert survives any restart) and forget deleted accounts (`user_deleted`), each once
per event id.
"""

from __future__ import annotations

import logging

from nameko.timer import timer

from medcode_common.event_handlers import handle_event, parse_event
from medcode_common.nameko_service import OutboxService, expected
from medcode_common.rpc import parse_request
from medcode_contracts import accounts, events
from medcode_contracts import careers as contract

from .dependencies import CareersProvider, MailRelay, careers_events

log = logging.getLogger(__name__)


def _dump(value):
    return value.model_dump(mode="json")


class CareersService(OutboxService):
    name = contract.SERVICE

    careers = CareersProvider()
    events = careers_events()
    mail = MailRelay()

    # -- jobs ----------------------------------------------------------------------------
    @expected
    def post_job(self, request: dict) -> dict:
        job = self.careers.post_job(parse_request(contract.PostJobRequest, request))
        self.events.after_commit()
        return _dump(job)

    @expected
    def close_job(self, request: dict) -> dict:
        return _dump(self.careers.close_job(parse_request(contract.CloseJobRequest, request)))

    @expected
    def get_jobs(self, request: dict) -> list:
        found = self.careers.get_jobs(parse_request(contract.GetJobsRequest, request))
        return [None if job is None else _dump(job) for job in found]

    @expected
    def search_jobs(self, request: dict) -> dict:
        return _dump(self.careers.search(parse_request(contract.SearchJobsRequest, request)))

    @expected
    def match_job(self, request: dict) -> dict:
        return _dump(self.careers.match_job(parse_request(contract.MatchJobRequest, request)))

    @expected
    def post_demo_jobs(self, request: dict | None = None) -> int:
        posted = self.careers.post_demo_jobs()
        self.events.after_commit()
        return posted

    # -- applications --------------------------------------------------------------------
    @expected
    def apply(self, request: dict) -> dict:
        application = self.careers.apply(parse_request(contract.ApplyRequest, request))
        self.events.after_commit()
        return _dump(application)

    @expected
    def list_applications(self, request: dict) -> dict:
        found = self.careers.list_applications(parse_request(contract.ListApplicationsRequest, request))
        return {job_id: [_dump(a) for a in apps] for job_id, apps in found.items()}

    @expected
    def my_applications(self, request: dict) -> list:
        return [_dump(a) for a in self.careers.my_applications(parse_request(contract.UserRequest, request))]

    # -- saved searches ------------------------------------------------------------------
    @expected
    def save_search(self, request: dict) -> dict:
        return _dump(self.careers.save_search(parse_request(contract.SaveSearchRequest, request)))

    @expected
    def my_saved_searches(self, request: dict) -> list:
        return [_dump(s) for s in self.careers.my_saved_searches(parse_request(contract.UserRequest, request))]

    @expected
    def set_alerts(self, request: dict) -> dict:
        return _dump(self.careers.set_alerts(parse_request(contract.SetAlertsRequest, request)))

    @expected
    def unsubscribe(self, request: dict) -> dict:
        return _dump(self.careers.unsubscribe(parse_request(contract.UnsubscribeRequest, request)))

    # -- profiles ------------------------------------------------------------------------
    @expected
    def get_profile(self, request: dict) -> dict:
        return _dump(self.careers.get_profile(parse_request(contract.UserRequest, request)))

    @expected
    def set_profile(self, request: dict) -> dict:
        return _dump(self.careers.set_profile(parse_request(contract.SetProfileRequest, request)))

    # -- events --------------------------------------------------------------------------
    # A store failure raises, so the event is retried with backoff and parked in
    # careers.dead-letter after EVENT_MAX_ATTEMPTS (the inbox makes a retry harmless); a
    # payload that breaks the schema is parked at once, since no retry can fix it.
    @handle_event(contract.SERVICE, contract.Events.JOB_POSTED)
    def handle_job_posted(self, payload: dict):
        if self.careers.on_job_posted(parse_event(events.JobPosted, payload)):
            self.send_alerts()

    @handle_event(accounts.SERVICE, accounts.Events.USER_DELETED)
    def handle_user_deleted(self, payload: dict):
        self.careers.on_user_deleted(parse_event(events.UserDeleted, payload))

    # -- timers --------------------------------------------------------------------------
    @timer(interval=1)
    def expire_jobs(self):
        """Jobs past their last listed day leave the board, each with `job_expired`
        (checked every CAREERS_EXPIRY_INTERVAL seconds)."""
        if self.careers.expire_due_when_time():
            self.events.after_commit()

    @timer(interval=1)
    def send_alerts(self):
        """Hands queued alert mails to the relay; what it refuses stays queued."""
        self.careers.send_due_alerts(self.mail)
