"""Contract of the `careers` service: the job board (jobs, applications, saved searches
with alerts, coders' career profiles).

Every RPC takes one argument, `request` (the JSON dump of the model named beside it), as
the other services do. The caller (the gateway) passes who is acting, as the accounts
service authenticated them: `*_id` (the account id) and `*_role`. The service enforces
the rules that follow from them (only EMPLOYER accounts post, only MEMBER accounts apply,
only the employer who posted a job sees its applications).

Errors (medcode_contracts.errors): BadRequest (invalid input: the message names the field
and what is wrong), Forbidden (not allowed for this role or account), NotFound (no such
job or saved search), Conflict (a second application to the same job).
"""

from __future__ import annotations

import re
from datetime import date
from enum import Enum

from pydantic import Field, field_validator, model_validator

from .accounts import Role
from .common import Id, Model

SERVICE = "careers"


class Rpc:
    HEALTH = "health"
    POST_JOB = "post_job"  # PostJobRequest -> Job
    CLOSE_JOB = "close_job"  # CloseJobRequest -> Job
    GET_JOBS = "get_jobs"  # GetJobsRequest -> list[Job | None], request order
    SEARCH_JOBS = "search_jobs"  # SearchJobsRequest -> JobSearchResult
    MATCH_JOB = "match_job"  # MatchJobRequest -> MatchJobResult (subscriptions)
    APPLY = "apply"  # ApplyRequest -> Application
    LIST_APPLICATIONS = "list_applications"  # ListApplicationsRequest -> {job_id: [Application]}
    MY_APPLICATIONS = "my_applications"  # UserRequest -> list[Application]
    SAVE_SEARCH = "save_search"  # SaveSearchRequest -> SavedSearch
    MY_SAVED_SEARCHES = "my_saved_searches"  # UserRequest -> list[SavedSearch]
    SET_ALERTS = "set_alerts"  # SetAlertsRequest -> SavedSearch (the owner)
    UNSUBSCRIBE = "unsubscribe"  # UnsubscribeRequest -> SavedSearch (link in a mail)
    GET_PROFILE = "get_profile"  # UserRequest -> CareerProfile
    SET_PROFILE = "set_profile"  # SetProfileRequest -> CareerProfile
    POST_DEMO_JOBS = "post_demo_jobs"  # {} -> int (sample jobs posted; 0 if already there)


class Events:
    JOB_POSTED = "job_posted"
    APPLICATION_SUBMITTED = "application_submitted"
    JOB_EXPIRED = "job_expired"


# The coding credentials a job can require (AAPC: CPC, CCS-P is AHIMA's, ...).
CERTIFICATIONS = ("CPC", "CCS", "CCS-P", "COC", "CIC", "CRC", "CPB", "CPMA", "CCA", "RHIT", "RHIA")
# Spellings accepted for employmentType, by their letters only ("full time", "FULL_TIME").
EMPLOYMENT_TYPES = {
    "fulltime": "Full-time",
    "parttime": "Part-time",
    "contract": "Contract",
    "temporary": "Temporary",
    "perdiem": "Per diem",
    "internship": "Internship",
}
MAX_SALARY = 10_000_000
MAX_PAGE_SIZE = 100
MAX_LISTING_DAYS = 365
MAX_FILTERS_PER_MATCH = 1000
MAX_SAVED_SEARCHES = 50  # per account: each one can send mail, so they are bounded

JOB_PUBLISHED = "published"
JOB_EXPIRED = "expired"
JOB_CLOSED = "closed"

# Markup is refused rather than stripped: a description is plain text, shown as text.
_MARKUP = re.compile(r"<\s*[a-zA-Z!/?]|&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(value: str | None, field: str) -> str | None:
    """`value` trimmed; ValueError when it holds markup or control characters."""
    if value is None:
        return None
    value = value.strip()
    if _CONTROL.search(value):
        raise ValueError(f"{field} must be plain text: control characters are not allowed")
    if _MARKUP.search(value):
        raise ValueError(
            f"{field} must be plain text: HTML tags and entities are not allowed "
            "(it is shown as written, never rendered)"
        )
    return value


def one_line(value: str | None, field: str) -> str | None:
    value = plain_text(value, field)
    if value is not None and ("\n" in value or "\r" in value):
        raise ValueError(f"{field} must be one line")
    return value


def certification_names(values: list[str] | None) -> list[str] | None:
    """Upper-cased, de-duplicated in order; ValueError naming an unknown one."""
    if values is None:
        return None
    out: list[str] = []
    for value in values:
        name = value.strip().upper()
        if name not in CERTIFICATIONS:
            raise ValueError(f"unknown certification {value.strip()[:20]!r}; known: {', '.join(CERTIFICATIONS)}")
        if name not in out:
            out.append(name)
    return out


class JobSort(str, Enum):
    RELEVANCE = "RELEVANCE"  # best match first (newest first when there are no words)
    DATE = "DATE"  # newest first


class JobInput(Model):
    """What an employer posts. `expires_on` must be after today (the domain checks it
    against its clock); without one the listing runs CAREERS_LISTING_DAYS."""

    title: str = Field(min_length=3, max_length=120)
    company: str = Field(min_length=2, max_length=120)
    location: str = Field(min_length=2, max_length=120)
    remote: bool
    employment_type: str = Field(max_length=40)
    salary_min: int | None = Field(default=None, ge=0, le=MAX_SALARY)
    salary_max: int | None = Field(default=None, ge=0, le=MAX_SALARY)
    certifications: list[str] = Field(max_length=len(CERTIFICATIONS))
    specialty: str | None = Field(default=None, max_length=80)
    description: str = Field(min_length=30, max_length=10_000)
    expires_on: date | None = None

    @field_validator("title", "company", "location", "specialty", mode="after")
    @classmethod
    def _one_line(cls, value, info):
        value = one_line(value, info.field_name)
        if value is not None and info.field_name != "specialty" and len(value) < 2:
            raise ValueError(f"{info.field_name} must not be blank")
        return value or None if info.field_name == "specialty" else value

    @field_validator("description", mode="after")
    @classmethod
    def _plain(cls, value):
        value = plain_text(value, "description")
        if len(value) < 30:
            raise ValueError("description must say at least 30 characters about the job")
        return value

    @field_validator("employment_type", mode="after")
    @classmethod
    def _employment_type(cls, value: str) -> str:
        key = re.sub(r"[^a-z]", "", value.lower())
        if key not in EMPLOYMENT_TYPES:
            raise ValueError(
                f"unknown employment type {value[:40]!r}; use one of {', '.join(EMPLOYMENT_TYPES.values())}"
            )
        return EMPLOYMENT_TYPES[key]

    @field_validator("certifications", mode="after")
    @classmethod
    def _certifications(cls, value):
        return certification_names(value)

    @model_validator(mode="after")
    def _salary_range(self):
        if self.salary_min is not None and self.salary_max is not None and self.salary_min > self.salary_max:
            raise ValueError("salary_min must not be above salary_max")
        return self


class Job(JobInput):
    """A job as stored (input rules are not re-checked on the way out)."""

    id: str
    employer_id: str
    posted_at: str  # ISO-8601 UTC
    expires_on: date
    status: str  # published, expired or closed
    sample: bool = False  # demo data (make demo-data), not a real opening
    description: str = Field(max_length=10_000)

    @field_validator("description", mode="after")
    @classmethod
    def _plain(cls, value):
        return value

    @field_validator("title", "company", "location", "specialty", mode="after")
    @classmethod
    def _one_line(cls, value, info):
        return value


class JobFilter(Model):
    query: str | None = Field(default=None, max_length=200)
    location: str | None = Field(default=None, max_length=120)
    remote: bool | None = None
    certifications: list[str] | None = Field(default=None, max_length=len(CERTIFICATIONS))
    min_salary: int | None = Field(default=None, ge=0, le=MAX_SALARY)
    posted_within_days: int | None = Field(default=None, ge=1, le=MAX_LISTING_DAYS)

    @field_validator("query", "location", mode="after")
    @classmethod
    def _words(cls, value, info):
        value = one_line(value, info.field_name)
        return value or None

    @field_validator("certifications", mode="after")
    @classmethod
    def _certifications(cls, value):
        return certification_names(value) or None


class PostJobRequest(Model):
    employer_id: Id
    employer_role: Role
    job: JobInput
    sample: bool = False


class CloseJobRequest(Model):
    employer_id: Id
    job_id: Id


class GetJobsRequest(Model):
    ids: list[str] = Field(max_length=MAX_PAGE_SIZE)


class SearchJobsRequest(Model):
    filter: JobFilter = JobFilter()
    first: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)
    after: str | None = Field(default=None, max_length=200)
    sort: JobSort = JobSort.RELEVANCE


class JobHit(Model):
    cursor: str
    score: float
    job: Job


class JobSearchResult(Model):
    total_count: int
    hits: list[JobHit]
    has_next_page: bool
    end_cursor: str | None = None


class MatchJobRequest(Model):
    job_id: Id
    filters: list[JobFilter] = Field(max_length=MAX_FILTERS_PER_MATCH)


class MatchJobResult(Model):
    job: Job | None  # None when it is no longer published
    matches: list[bool]  # one per filter, in order


class ApplyRequest(Model):
    job_id: Id
    applicant_id: Id
    applicant_role: Role
    applicant_name: str = Field(max_length=200)
    applicant_email: str = Field(max_length=320)
    cover_letter: str = Field(min_length=1, max_length=5_000)
    resume_text: str | None = Field(default=None, max_length=20_000)

    @field_validator("cover_letter", "resume_text", mode="after")
    @classmethod
    def _plain(cls, value, info):
        value = plain_text(value, info.field_name)
        if info.field_name == "cover_letter" and not value:
            raise ValueError("cover_letter must not be blank")
        return value or None if info.field_name == "resume_text" else value


class Application(Model):
    id: str
    job_id: str
    applicant_id: str
    applicant_name: str
    applicant_email: str
    status: str  # submitted
    submitted_at: str  # ISO-8601 UTC
    cover_letter: str
    resume_text: str | None = None


class ListApplicationsRequest(Model):
    employer_id: Id
    job_ids: list[str] = Field(max_length=MAX_PAGE_SIZE)


class UserRequest(Model):
    user_id: Id


class SaveSearchRequest(Model):
    user_id: Id
    email: str = Field(min_length=3, max_length=320)  # where alerts go
    filter: JobFilter
    alerts: bool = True


class SavedSearch(Model):
    id: str
    filter: JobFilter
    alerts: bool
    created_at: str


class SetAlertsRequest(Model):
    user_id: Id
    saved_search_id: Id
    alerts: bool


class UnsubscribeRequest(Model):
    token: str = Field(min_length=1, max_length=200)


class CareerProfile(Model):
    user_id: str
    certifications: list[str] = []
    specialty: str | None = None


class SetProfileRequest(Model):
    user_id: Id
    certifications: list[str] = Field(max_length=len(CERTIFICATIONS))
    specialty: str | None = Field(default=None, max_length=80)

    @field_validator("certifications", mode="after")
    @classmethod
    def _certifications(cls, value):
        return certification_names(value)

    @field_validator("specialty", mode="after")
    @classmethod
    def _specialty(cls, value):
        return one_line(value, "specialty") or None
