"""The job board's use cases, free of Nameko: posting and closing jobs, search, applying,
saved searches and their alerts, career profiles, expiry and account deletion.

Who may do what: only EMPLOYER accounts post (and close their own jobs), only MEMBER
accounts apply (once per job), only the employer who posted a job reads its applications.
"""

from __future__ import annotations

import email.policy
import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from urllib.parse import quote

from medcode_contracts import careers as contract
from medcode_contracts import events
from medcode_contracts.accounts import Role
from medcode_contracts.errors import BadRequest, Forbidden, NotFound

from . import sample_data
from .config import CareersSettings
from .search import JobDocument, JobIndex, decode_cursor, encode_cursor, make_query
from .storage import CareerStore, NewAlert

log = logging.getLogger(__name__)

ALERT_LEASE = timedelta(minutes=2)  # a sender that died mid-send gives the mail back after this


def utcnow() -> datetime:
    return datetime.now(UTC)


def filter_summary(flt: contract.JobFilter) -> str:
    """A saved search in words, for the alert mail."""
    parts = []
    if flt.query:
        parts.append(f'"{flt.query}"')
    if flt.location:
        parts.append(f"in {flt.location}")
    if flt.remote is not None:
        parts.append("remote" if flt.remote else "on site")
    if flt.certifications:
        parts.append("for " + "/".join(flt.certifications))
    if flt.min_salary is not None:
        parts.append(f"paying ${flt.min_salary:,}+")
    if flt.posted_within_days is not None:
        parts.append(f"posted within {flt.posted_within_days} days")
    return ", ".join(parts) or "all jobs"


def compose_alert(job: contract.Job, flt: contract.JobFilter, public_url: str, token: str) -> tuple[str, str, str]:
    """(subject, plain-text body, unsubscribe URL) of one alert mail."""
    unsubscribe = f"{public_url.rstrip('/')}/careers/unsubscribe?token={quote(token)}"
    salary = ""
    if job.salary_min is not None or job.salary_max is not None:
        low, high = job.salary_min, job.salary_max
        salary = (
            "Salary: "
            + (
                f"${low:,} - ${high:,}"
                if low is not None and high is not None
                else f"${(low if low is not None else high):,}"
            )
            + "\n"
        )
    certs = ", ".join(job.certifications) or "none stated"
    body = (
        f"A new job matches your saved search ({filter_summary(flt)}):\n\n"
        f"{job.title}\n{job.company} - {job.location}{' (remote)' if job.remote else ''}\n"
        f"{job.employment_type}\n{salary}Certifications: {certs}\n\n"
        f"{job.description[:600]}{'...' if len(job.description) > 600 else ''}\n\n"
        f"Job id: {job.id}\n\n"
        f"You get this mail because you saved this job search with alerts on.\n"
        f"Turn these alerts off: {unsubscribe}\n"
    )
    return f"New job: {job.title} at {job.company}"[:300], body, unsubscribe


# Long header lines are kept whole: folding would encode the List-Unsubscribe URL, which
# mail clients then cannot use (RFC 5322 allows 998 characters a line).
_MAIL_POLICY = email.policy.default.clone(max_line_length=998)


def alert_message(mail, sender: str) -> EmailMessage:
    message = EmailMessage(policy=_MAIL_POLICY)
    message["From"] = sender
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    # RFC 2369 / 8058: mail clients offer a one-click unsubscribe (a POST to the link).
    message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.body)
    return message


class Careers:
    def __init__(
        self, store: CareerStore, index: JobIndex, settings: CareersSettings, clock: Callable[[], datetime] = utcnow
    ):
        self.store = store
        self.index = index
        self.settings = settings
        self.clock = clock
        self._next_expiry_check = 0.0

    def today(self) -> date:
        return self.clock().astimezone(UTC).date()

    # -- jobs --------------------------------------------------------------------------
    def post_job(self, request: contract.PostJobRequest) -> contract.Job:
        if request.employer_role is not Role.EMPLOYER:
            raise Forbidden("Only employer accounts can post jobs.")
        posted = self._publish(request.employer_id, request.job, sample=request.sample)
        self.index.upsert([JobDocument.of(posted)])
        return posted

    def _publish(self, employer_id: str, job: contract.JobInput, sample: bool = False) -> contract.Job:
        """Stores the job and its `job_posted`; the caller indexes it."""
        today = self.today()
        expires_on = job.expires_on or today + timedelta(days=self.settings.CAREERS_LISTING_DAYS)
        if expires_on <= today:
            raise BadRequest("expiresOn: must be a date in the future")
        if expires_on > today + timedelta(days=contract.MAX_LISTING_DAYS):
            raise BadRequest(f"expiresOn: a listing runs at most {contract.MAX_LISTING_DAYS} days")
        return self.store.insert_job(employer_id, job, expires_on, self.clock(), sample=sample)

    def close_job(self, request: contract.CloseJobRequest) -> contract.Job:
        job = self.store.get_jobs([request.job_id]).get(request.job_id)
        if job is None:
            raise NotFound("No such job.")
        if job.employer_id != request.employer_id:
            raise Forbidden("Only the employer who posted a job can close it.")
        closed = self.store.close_job(request.job_id, self.clock())
        if closed is None:
            raise NotFound("No such job.")
        self.index.remove([request.job_id])
        return closed

    def get_jobs(self, request: contract.GetJobsRequest) -> list[contract.Job | None]:
        found = self.store.get_jobs(request.ids)
        return [found.get(job_id) for job_id in request.ids]

    def is_open(self, job: contract.Job) -> bool:
        return job.status == contract.JOB_PUBLISHED and job.expires_on >= self.today()

    def search(self, request: contract.SearchJobsRequest) -> contract.JobSearchResult:
        offset = decode_cursor(request.after) if request.after else 0
        query = make_query(request.filter, self.clock(), sort=request.sort, offset=offset, limit=request.first)
        page = self.index.search(query)
        found = self.store.get_jobs([job_id for job_id, _ in page.hits])
        hits = []
        for position, (job_id, score) in enumerate(page.hits, start=offset + 1):
            job = found.get(job_id)
            if job is None or not self.is_open(job):
                continue  # closed or expired a moment ago: the index follows right after
            hits.append(contract.JobHit(cursor=encode_cursor(position), score=score, job=job))
        end = offset + len(page.hits)
        return contract.JobSearchResult(
            total_count=page.total,
            hits=hits,
            has_next_page=end < page.total,
            end_cursor=encode_cursor(end) if page.hits else None,
        )

    def matching(self, job: contract.Job, filters: list[contract.JobFilter]) -> list[bool]:
        """Which filters the open `job` matches, decided by the index (as a search would)."""
        now = self.clock()
        if not self.index.search(make_query(contract.JobFilter(), now, job_ids=[job.id], limit=1)).hits:
            # Its `job_posted` can be relayed (by the timer) before the post indexed it.
            self.index.upsert([JobDocument.of(job)])
        return [bool(self.index.search(make_query(flt, now, job_ids=[job.id], limit=1)).hits) for flt in filters]

    def match_job(self, request: contract.MatchJobRequest) -> contract.MatchJobResult:
        job = self.store.get_jobs([request.job_id]).get(request.job_id)
        if job is None or not self.is_open(job):
            return contract.MatchJobResult(job=None, matches=[False] * len(request.filters))
        return contract.MatchJobResult(job=job, matches=self.matching(job, request.filters))

    def expire_due_when_time(self) -> list[str]:
        """expire_due(), at most once per CAREERS_EXPIRY_INTERVAL."""
        now = time.monotonic()
        if now < self._next_expiry_check:
            return []
        self._next_expiry_check = now + self.settings.CAREERS_EXPIRY_INTERVAL
        return self.expire_due()

    def expire_due(self) -> list[str]:
        expired = self.store.expire_due(self.today())
        if expired:
            self.index.remove(expired)
            log.info("expired %d job(s)", len(expired))
        return expired

    def sync_index(self) -> bool:
        """Make the index hold exactly the open jobs (after a crash between a commit and
        its index write, or a lost index). True when it had to be rebuilt."""
        open_jobs = self.store.open_jobs(self.today())
        if {job.id for job in open_jobs} == self.index.indexed_ids():
            return False
        log.info("rebuilding the job index from the database (%d open jobs)", len(open_jobs))
        self.index.replace_all(JobDocument.of(job) for job in open_jobs)
        return True

    # -- applications ------------------------------------------------------------------
    def apply(self, request: contract.ApplyRequest) -> contract.Application:
        if request.applicant_role is not Role.MEMBER:
            raise Forbidden("Only member (coder) accounts can apply to jobs.")
        job = self.store.get_jobs([request.job_id]).get(request.job_id)
        if job is None:
            raise NotFound("No such job.")
        if not self.is_open(job):
            raise BadRequest("This job is no longer open for applications.")
        return self.store.insert_application(request, self.clock())

    def list_applications(self, request: contract.ListApplicationsRequest) -> dict[str, list[contract.Application]]:
        """Applications of the jobs among `job_ids` that this employer posted (others are left out)."""
        owned = [
            job.id for job in self.store.get_jobs(request.job_ids).values() if job.employer_id == request.employer_id
        ]
        return self.store.applications_for_jobs(owned)

    def my_applications(self, request: contract.UserRequest) -> list[contract.Application]:
        return self.store.applications_of(request.user_id)

    # -- saved searches and alerts -----------------------------------------------------
    def save_search(self, request: contract.SaveSearchRequest) -> contract.SavedSearch:
        make_query(request.filter, self.clock())  # the same checks a search makes
        if len(self.store.saved_searches_of(request.user_id)) >= contract.MAX_SAVED_SEARCHES:
            raise BadRequest(f"An account can keep at most {contract.MAX_SAVED_SEARCHES} saved searches.")
        return self.store.insert_saved_search(
            request.user_id, request.email, request.filter, request.alerts, secrets.token_urlsafe(24), self.clock()
        )

    def my_saved_searches(self, request: contract.UserRequest) -> list[contract.SavedSearch]:
        return self.store.saved_searches_of(request.user_id)

    def set_alerts(self, request: contract.SetAlertsRequest) -> contract.SavedSearch:
        found = self.store.set_alerts(request.saved_search_id, request.alerts, user_id=request.user_id)
        if found is None:
            raise NotFound("No such saved search.")
        return found

    def unsubscribe(self, request: contract.UnsubscribeRequest) -> contract.SavedSearch:
        found = self.store.set_alerts("", False, unsubscribe_token=request.token)
        if found is None:
            raise NotFound("This unsubscribe link is not valid (or the saved search was deleted).")
        return found

    def on_job_posted(self, event: events.JobPosted) -> int:
        """Queue one alert mail per saved search (alerts on) that the new job matches."""
        job = self.store.get_jobs([event.job_id]).get(event.job_id)
        new: list[NewAlert] = []
        if job is not None and self.is_open(job):
            searches = self.store.alerting_searches()
            for search, matched in zip(searches, self.matching(job, [s.filter for s in searches])):
                if not matched:
                    continue
                subject, body, link = compose_alert(
                    job, search.filter, self.settings.CAREERS_PUBLIC_URL, search.unsubscribe_token
                )
                new.append(
                    NewAlert(
                        saved_search_id=search.id,
                        user_id=search.user_id,
                        recipient=search.email,
                        subject=subject,
                        body=body,
                        unsubscribe_url=link,
                    )
                )
        return self.store.record_alerts(event.event_id, event.job_id, new, self.clock())

    def send_due_alerts(self, send: Callable[[EmailMessage], None]) -> int:
        """Hand due alert mails to the relay; a refused one is kept and tried again later."""
        from medcode_common.mail import MailRelayUnavailable

        sent = 0
        for mail in self.store.due_alerts(self.clock()):
            if not self.store.claim_alert(mail.id, self.clock(), ALERT_LEASE):
                continue
            try:
                send(alert_message(mail, self.settings.CAREERS_ALERT_FROM))
            except MailRelayUnavailable as exc:
                retry = self.clock() + timedelta(seconds=self.settings.CAREERS_ALERT_RETRY_SECONDS)
                self.store.alert_failed(mail.id, retry)
                log.warning("alert mail %s kept for a later try (attempt %d): %s", mail.id, mail.attempts + 1, exc)
                break  # the relay is away: the others would fail the same way
            self.store.alert_sent(mail.id, self.clock())
            sent += 1
        return sent

    # -- profiles ----------------------------------------------------------------------
    def get_profile(self, request: contract.UserRequest) -> contract.CareerProfile:
        return self.store.get_profile(request.user_id)

    def set_profile(self, request: contract.SetProfileRequest) -> contract.CareerProfile:
        return self.store.set_profile(request, self.clock())

    # -- accounts' events --------------------------------------------------------------
    def on_user_deleted(self, event: events.UserDeleted) -> bool:
        closed = self.store.forget_user(event.user_id, event.event_id, self.clock())
        if closed is None:
            return False
        self.index.remove(closed)
        return True

    # -- sample data -------------------------------------------------------------------
    def post_demo_jobs(self, only_if_empty: bool = False) -> int:
        """Post the sample jobs (marked sample) unless they are up already; with
        `only_if_empty`, only when the board has no open job at all."""
        today = self.today()
        if only_if_empty and self.store.count_open_jobs(today):
            return 0
        if self.store.count_open_jobs(today, sample_only=True):
            return 0
        posted = [self._publish(sample_data.EMPLOYER_ID, job, sample=True) for job in sample_data.jobs(today)]
        self.index.upsert(JobDocument.of(job) for job in posted)  # one index commit for all
        return len(posted)
