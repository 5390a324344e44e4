"""The job board (a later issue implements it)."""
from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import date, datetime

import strawberry

from .common import PageInfo
from .errors import not_implemented


@strawberry.input
class JobFilter:
    query: str | None = None
    location: str | None = None
    remote: bool | None = None
    certifications: list[str] | None = None
    min_salary: int | None = None
    posted_within_days: int | None = None


@strawberry.input
class JobInput:
    title: str
    company: str
    location: str
    remote: bool
    employment_type: str
    certifications: list[str]
    description: str
    salary_min: int | None = None
    salary_max: int | None = None
    specialty: str | None = None
    expires_on: date | None = None


@strawberry.input
class ApplicationInput:
    job_id: strawberry.ID
    cover_letter: str
    resume_text: str | None = None


@strawberry.type
class Job:
    id: strawberry.ID
    title: str
    company: str
    location: str
    remote: bool
    employment_type: str
    salary_min: int | None
    salary_max: int | None
    certifications: list[str]
    specialty: str | None
    description: str
    posted_at: datetime
    expires_on: date | None
    applications: list[Application] | None = strawberry.field(
        description="Only for the employer who posted it.")


@strawberry.type
class Application:
    id: strawberry.ID
    job: Job
    status: str
    submitted_at: datetime


@strawberry.type
class JobEdge:
    cursor: str
    node: Job


@strawberry.type
class JobSearchResult:
    total_count: int
    edges: list[JobEdge]
    page_info: PageInfo


@strawberry.type
class SavedSearch:
    id: strawberry.ID
    filter: str
    alerts: bool


@strawberry.type
class CareersQuery:
    @strawberry.field
    async def jobs(self, filter: JobFilter | None = None, first: int | None = 20,
                   after: str | None = None) -> JobSearchResult:
        raise not_implemented("jobs")

    @strawberry.field
    async def job(self, id: strawberry.ID) -> Job | None:
        raise not_implemented("job")


@strawberry.type
class CareersMutation:
    @strawberry.mutation
    async def post_job(self, input: JobInput) -> Job:
        raise not_implemented("postJob")

    @strawberry.mutation
    async def apply_to_job(self, input: ApplicationInput) -> Application:
        raise not_implemented("applyToJob")

    @strawberry.mutation
    async def save_job_search(self, filter: JobFilter, alerts: bool | None = True) -> SavedSearch:
        raise not_implemented("saveJobSearch")


@strawberry.type
class CareersSubscription:
    @strawberry.subscription(description="Jobs posted from now on that match the filter.")
    async def job_posted(self, filter: JobFilter | None = None) -> AsyncGenerator[Job, None]:
        raise not_implemented("jobPosted")
        yield  # an async generator, as subscriptions must be
