"""The job board: jobs, postJob, applyToJob, saveJobSearch and the jobPosted subscription
(the contract), plus, beside it: Job.fit / status / sample, the employer's view of an
application, closeJob, saved-search alerts on and off, and the coder's career profile.

The careers service does the work and enforces who may do what; the gateway passes the
caller's account id and role as `accounts.authenticate` resolved them, and checks input
against the same contract models first, so a bad request costs no RPC.
"""

from __future__ import annotations

import asyncio
import collections
import html
import json
import logging
import re
import weakref
from collections.abc import AsyncGenerator
from datetime import date, datetime
from enum import Enum
from typing import TypeVar

import strawberry
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse
from strawberry.dataloader import DataLoader

from medcode_contracts import careers as contract
from medcode_contracts import events as event_schemas
from medcode_contracts.accounts import Role as ContractRole
from medcode_contracts.errors import BadRequest, Forbidden, NotFound, PlatformError, Unavailable, first_error
from medcode_contracts.rpc import Careers, RpcMethod

from .. import events
from ..context import Context
from ..rpc import invoke
from .common import PageInfo, copy_fields, field_values

log = logging.getLogger("gateway.careers")

SUBSCRIBER_QUEUE = 100  # jobs waiting for a slow subscriber; older ones are dropped
SEEN_EVENTS = 1000  # event ids remembered, so a redelivered job_posted is sent once


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


ModelT = TypeVar("ModelT", bound=BaseModel)


def _request(model: type[ModelT], _prefix: tuple[str, ...] = (), **fields) -> ModelT:
    """The contract request, or BadRequest naming the field as the client spelled it
    (`_prefix`: the argument the model is, e.g. ("filter",))."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        where, message = first_error(exc, "input", _prefix, _camel).split(": ", 1)
        message = re.sub(r"\b[a-z]+(?:_[a-z]+)+\b", lambda m: _camel(m.group(0)), message.removeprefix("Value error, "))
        raise BadRequest(f"{where}: {message}") from None


async def _call(context: Context, method: RpcMethod, request: BaseModel, op: str):
    return await context.invoke(method, request, op=op)


async def _call_for_account(context: Context, method: RpcMethod, op: str):
    """`method` about the signed-in account (Unauthenticated without one)."""
    account = await context.require_account()
    return await _call(context, method, contract.UserRequest(user_id=account.id), op)


# -- inputs ------------------------------------------------------------------------------
@strawberry.input
class JobFilter:
    query: str | None = None
    location: str | None = None
    remote: bool | None = None
    certifications: list[str] | None = None
    min_salary: int | None = None
    posted_within_days: int | None = None

    def to_contract(self) -> contract.JobFilter:
        return _request(contract.JobFilter, ("filter",), **field_values(self))


def _filter(flt: JobFilter | None) -> contract.JobFilter:
    return flt.to_contract() if flt is not None else contract.JobFilter()


@strawberry.input
class JobInput:
    title: str
    company: str
    location: str
    remote: bool
    employment_type: str
    certifications: list[str]
    description: str = strawberry.field(description="Plain text (shown as written; markup is refused).")
    salary_min: int | None = None
    salary_max: int | None = None
    specialty: str | None = None
    expires_on: date | None = strawberry.field(
        default=None,
        description=("The last day the job is listed; after today. Default: CAREERS_LISTING_DAYS from now."),
    )


@strawberry.input
class ApplicationInput:
    job_id: strawberry.ID
    cover_letter: str
    resume_text: str | None = None


@strawberry.input(description="Beside the contract: what a coder holds, for Job.fit.")
class CareerProfileInput:
    certifications: list[str]
    specialty: str | None = None


@strawberry.enum(description="Beside the contract: the order of jobs results.")
class JobSort(Enum):
    RELEVANCE = "RELEVANCE"
    DATE = "DATE"


# -- types -------------------------------------------------------------------------------
@strawberry.type(description="Beside the contract: how a job fits the signed-in coder's career profile.")
class JobFit:
    held: list[str] = strawberry.field(description="The job's certifications the coder holds.")
    missing: list[str] = strawberry.field(description="The job's certifications the coder does not hold.")
    qualified: bool = strawberry.field(description="The job lists no certification, or the coder holds one of them.")
    specialty_match: bool | None = strawberry.field(
        description=("The job's specialty shares a word with the coder's; null when either states none.")
    )


def _words(text: str | None) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", (text or "").lower()) if len(w) > 2}


def job_fit(job_certifications: list[str], job_specialty: str | None, profile: contract.CareerProfile) -> JobFit:
    held = [c for c in job_certifications if c in profile.certifications]
    missing = [c for c in job_certifications if c not in profile.certifications]
    specialty = None
    if job_specialty and profile.specialty:
        specialty = bool(_words(job_specialty) & _words(profile.specialty))
    return JobFit(held=held, missing=missing, qualified=not job_certifications or bool(held), specialty_match=specialty)


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
    description: str = strawberry.field(description="Plain text: show it as text, never as HTML.")
    posted_at: datetime
    expires_on: date | None
    status: str = strawberry.field(description="Beside the contract: published, expired or closed.")
    sample: bool = strawberry.field(description="Beside the contract: sample data, not a real opening.")
    employer_id: strawberry.Private[str]

    @classmethod
    def from_contract(cls, job: contract.Job) -> Job:
        return copy_fields(
            cls, job, certifications=list(job.certifications), posted_at=datetime.fromisoformat(job.posted_at)
        )

    @strawberry.field(description="Only for the employer who posted it.")
    async def applications(self, info: strawberry.Info) -> list[Application] | None:
        context: Context = info.context
        account = await context.account()
        if account is None or account.id != self.employer_id:
            return None
        found = await context.loader("job_applications", _applications_loader(account.id)).load(str(self.id))
        return [Application.from_contract(a) for a in found]

    @strawberry.field(
        description=(
            "Beside the contract: which of the job's certifications the signed-in "
            "coder holds (from their career profile); null for guests and employers."
        )
    )
    async def fit(self, info: strawberry.Info) -> JobFit | None:
        context: Context = info.context
        profile = await _own_profile(context)
        if profile is None:
            return None
        return job_fit(self.certifications, self.specialty, profile)


@strawberry.type
class Application:
    id: strawberry.ID
    status: str
    submitted_at: datetime
    cover_letter: str = strawberry.field(description="Beside the contract.")
    resume_text: str | None = strawberry.field(description="Beside the contract.")
    applicant_name: str = strawberry.field(description="Beside the contract: the applicant's account name.")
    applicant_email: str = strawberry.field(description="Beside the contract: where the employer answers.")
    job_id: strawberry.Private[str]

    @classmethod
    def from_contract(cls, application: contract.Application) -> Application:
        return copy_fields(cls, application, submitted_at=datetime.fromisoformat(application.submitted_at))

    @strawberry.field
    async def job(self, info: strawberry.Info) -> Job:
        found = await load_job(info.context, self.job_id)
        if found is None:
            raise NotFound("The job of this application is gone.")
        return found


@strawberry.type
class JobEdge:
    cursor: str
    node: Job
    score: float = strawberry.field(description="Beside the contract: relevance (0 when sorted by date).")


@strawberry.type
class JobSearchResult:
    total_count: int
    edges: list[JobEdge]
    page_info: PageInfo


def _filter_json(flt: contract.JobFilter) -> str:
    """The saved filter as the client wrote it (GraphQL names, unset fields left out)."""
    return json.dumps(
        {_camel(k): v for k, v in flt.model_dump(mode="json", exclude_none=True).items()},
        sort_keys=True,
        separators=(",", ":"),
    )


@strawberry.type
class SavedSearch:
    id: strawberry.ID
    filter: str = strawberry.field(description='The filter as JSON, e.g. {"query":"coder","remote":true}.')
    alerts: bool

    @classmethod
    def from_contract(cls, saved: contract.SavedSearch) -> SavedSearch:
        return cls(id=strawberry.ID(saved.id), filter=_filter_json(saved.filter), alerts=saved.alerts)


@strawberry.type(description="Beside the contract: a coder's certifications and specialty (careers service).")
class CareerProfile:
    certifications: list[str]
    specialty: str | None


# -- loaders -----------------------------------------------------------------------------
def _jobs_loader(context: Context) -> DataLoader:
    async def load(ids: list[str]) -> list[contract.Job | None]:
        return await _call(context, Careers.GET_JOBS, contract.GetJobsRequest(ids=ids), "job")

    return DataLoader(load_fn=load, max_batch_size=Careers.GET_JOBS.max_batch_size)


async def load_job(context: Context, job_id: str) -> Job | None:
    if not job_id or len(job_id) > 100:
        return None
    found = await context.loader("jobs", _jobs_loader).load(job_id)
    return None if found is None else Job.from_contract(found)


def _applications_loader(employer_id: str):
    def factory(context: Context) -> DataLoader:
        async def load(job_ids: list[str]) -> list[list[contract.Application]]:
            found = await _call(
                context,
                Careers.LIST_APPLICATIONS,
                contract.ListApplicationsRequest(employer_id=employer_id, job_ids=job_ids),
                "job.applications",
            )
            return [found.get(job_id, []) for job_id in job_ids]

        return DataLoader(load_fn=load, max_batch_size=contract.MAX_PAGE_SIZE)

    return factory


async def _own_profile(context: Context) -> contract.CareerProfile | None:
    """The signed-in member's career profile, one RPC per request; None for others."""
    account = await context.account()
    if account is None or account.role is not ContractRole.MEMBER:
        return None

    def factory(ctx: Context) -> DataLoader:
        async def load(user_ids: list[str]) -> list[contract.CareerProfile]:
            return [
                await _call(ctx, Careers.GET_PROFILE, contract.UserRequest(user_id=uid), "job.fit") for uid in user_ids
            ]

        return DataLoader(load_fn=load)

    return await context.loader("career_profile", factory).load(account.id)


def _search_result(result: contract.JobSearchResult) -> JobSearchResult:
    return JobSearchResult(
        total_count=result.total_count,
        edges=[JobEdge(cursor=hit.cursor, node=Job.from_contract(hit.job), score=hit.score) for hit in result.hits],
        page_info=PageInfo(has_next_page=result.has_next_page, end_cursor=result.end_cursor),
    )


async def _require(context: Context, info: strawberry.Info, role: ContractRole, what: str):
    account = await context.require_account(info)
    if account.role is not role:
        raise Forbidden(f"Only {role.value.lower()} accounts can {what}.")
    return account


# -- queries -----------------------------------------------------------------------------
@strawberry.type
class CareersQuery:
    @strawberry.field(description="Open jobs (published, not expired) matching the filter.")
    async def jobs(
        self,
        info: strawberry.Info,
        filter: JobFilter | None = None,
        first: int | None = 20,
        after: str | None = None,
        sort: JobSort | None = JobSort.RELEVANCE,
    ) -> JobSearchResult:
        context: Context = info.context
        request = _request(
            contract.SearchJobsRequest,
            filter=_filter(filter).model_dump(),
            first=20 if first is None else first,
            after=after,
            sort=(sort or JobSort.RELEVANCE).value,
        )
        return _search_result(await _call(context, Careers.SEARCH_JOBS, request, "jobs"))

    @strawberry.field(description="Any job by id, whatever its status (see Job.status).")
    async def job(self, info: strawberry.Info, id: strawberry.ID) -> Job | None:
        return await load_job(info.context, str(id))

    @strawberry.field(description="Beside the contract: the signed-in coder's career profile.")
    async def career_profile(self, info: strawberry.Info) -> CareerProfile:
        profile = await _call_for_account(info.context, Careers.GET_PROFILE, "careerProfile")
        return CareerProfile(certifications=profile.certifications, specialty=profile.specialty)

    @strawberry.field(description="Beside the contract: the signed-in coder's applications, newest first.")
    async def my_job_applications(self, info: strawberry.Info) -> list[Application]:
        found = await _call_for_account(info.context, Careers.MY_APPLICATIONS, "myJobApplications")
        return [Application.from_contract(a) for a in found]

    @strawberry.field(description="Beside the contract: the signed-in account's saved job searches.")
    async def my_job_searches(self, info: strawberry.Info) -> list[SavedSearch]:
        found = await _call_for_account(info.context, Careers.MY_SAVED_SEARCHES, "myJobSearches")
        return [SavedSearch.from_contract(s) for s in found]


# -- mutations ---------------------------------------------------------------------------
@strawberry.type
class CareersMutation:
    @strawberry.mutation(description="EMPLOYER accounts only.")
    async def post_job(self, info: strawberry.Info, input: JobInput) -> Job:
        context: Context = info.context
        account = await _require(context, info, ContractRole.EMPLOYER, "post jobs")
        job = _request(contract.JobInput, **field_values(input))
        request = contract.PostJobRequest(employer_id=account.id, employer_role=account.role, job=job)
        return Job.from_contract(await _call(context, Careers.POST_JOB, request, "postJob"))

    @strawberry.mutation(description="Beside the contract: the employer who posted a job takes it off the board.")
    async def close_job(self, info: strawberry.Info, id: strawberry.ID) -> Job:
        context: Context = info.context
        account = await _require(context, info, ContractRole.EMPLOYER, "close jobs")
        request = _request(contract.CloseJobRequest, employer_id=account.id, job_id=str(id))
        return Job.from_contract(await _call(context, Careers.CLOSE_JOB, request, "closeJob"))

    @strawberry.mutation(description="MEMBER accounts only; once per job.")
    async def apply_to_job(self, info: strawberry.Info, input: ApplicationInput) -> Application:
        context: Context = info.context
        account = await _require(context, info, ContractRole.MEMBER, "apply to jobs")
        request = _request(
            contract.ApplyRequest,
            **field_values(input),  # job_id, cover_letter, resume_text
            applicant_id=account.id,
            applicant_role=account.role.value,
            applicant_name=account.name,
            applicant_email=account.email,
        )
        return Application.from_contract(await _call(context, Careers.APPLY, request, "applyToJob"))

    @strawberry.mutation(description="Alerts go by email to the account's address and to jobPosted.")
    async def save_job_search(
        self, info: strawberry.Info, filter: JobFilter, alerts: bool | None = True
    ) -> SavedSearch:
        context: Context = info.context
        account = await context.require_account(info)
        request = _request(
            contract.SaveSearchRequest,
            user_id=account.id,
            email=account.email,
            filter=filter.to_contract().model_dump(),
            alerts=True if alerts is None else alerts,
        )
        return SavedSearch.from_contract(await _call(context, Careers.SAVE_SEARCH, request, "saveJobSearch"))

    @strawberry.mutation(description="Beside the contract: turn a saved search's alerts on or off.")
    async def set_job_search_alerts(self, info: strawberry.Info, id: strawberry.ID, alerts: bool) -> SavedSearch:
        context: Context = info.context
        account = await context.require_account(info)
        request = _request(contract.SetAlertsRequest, user_id=account.id, saved_search_id=str(id), alerts=alerts)
        return SavedSearch.from_contract(await _call(context, Careers.SET_ALERTS, request, "setJobSearchAlerts"))

    @strawberry.mutation(description="Beside the contract: what the unsubscribe link of an alert mail does.")
    async def unsubscribe_job_alerts(self, info: strawberry.Info, token: str) -> SavedSearch:
        request = _request(contract.UnsubscribeRequest, token=token)
        return SavedSearch.from_contract(
            await _call(info.context, Careers.UNSUBSCRIBE, request, "unsubscribeJobAlerts")
        )

    @strawberry.mutation(description="Beside the contract: record the signed-in coder's certifications and specialty.")
    async def set_career_profile(self, info: strawberry.Info, input: CareerProfileInput) -> CareerProfile:
        context: Context = info.context
        account = await context.require_account(info)
        request = _request(contract.SetProfileRequest, user_id=account.id, **field_values(input))
        profile = await _call(context, Careers.SET_PROFILE, request, "setCareerProfile")
        return CareerProfile(certifications=profile.certifications, specialty=profile.specialty)


# -- the jobPosted subscription ----------------------------------------------------------
class JobFeed:
    """One per gateway process (per RPC client): one consumer of `careers.job_posted`
    fanned out to the subscribers whose filter the job matches. The careers service
    decides the matches (one `match_job` RPC per event for all subscribers), so a live
    event and an alert mail agree on what matches."""

    def __init__(self, rpc):
        self.rpc = rpc
        self.subscribers: dict[asyncio.Queue, contract.JobFilter] = {}
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._subscribed: asyncio.Future | None = None

    async def start(self) -> None:
        if self._subscribed is None:
            if self.rpc.connection is None:
                raise Unavailable("the gateway is not connected to the broker yet")
            self._subscribed = asyncio.ensure_future(
                events.subscribe(self.rpc.connection, contract.SERVICE, contract.Events.JOB_POSTED, self.on_event)
            )
        try:
            await asyncio.shield(self._subscribed)
        except Exception:
            self._subscribed = None
            raise

    def add(self, flt: contract.JobFilter) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=SUBSCRIBER_QUEUE)
        self.subscribers[queue] = flt
        return queue

    def remove(self, queue: asyncio.Queue) -> None:
        self.subscribers.pop(queue, None)

    async def on_event(self, payload: dict) -> None:
        try:
            event = event_schemas.JobPosted.model_validate(payload)
        except ValidationError:
            log.warning("dropped a malformed job_posted event")
            return
        if event.event_id in self._seen:
            return  # redelivered: subscribers have it already
        self._seen[event.event_id] = None
        while len(self._seen) > SEEN_EVENTS:
            self._seen.popitem(last=False)
        subscribers = list(self.subscribers.items())
        if not subscribers:
            return
        try:
            for start in range(0, len(subscribers), contract.MAX_FILTERS_PER_MATCH):
                chunk = subscribers[start : start + contract.MAX_FILTERS_PER_MATCH]
                result = await invoke(
                    self.rpc,
                    Careers.MATCH_JOB,
                    contract.MatchJobRequest(job_id=event.job_id, filters=[f for _, f in chunk]),
                    op="jobPosted",
                )
                if result.job is None:
                    return
                for (queue, _), matched in zip(chunk, result.matches):
                    if matched:
                        if queue.full():
                            queue.get_nowait()
                        queue.put_nowait(result.job)
        except PlatformError as exc:
            log.warning("jobPosted: could not match job %s to subscriptions: %s", event.job_id, exc)


_feeds: weakref.WeakKeyDictionary[object, JobFeed] = weakref.WeakKeyDictionary()


def job_feed(rpc) -> JobFeed:
    feed = _feeds.get(rpc)
    if feed is None:
        feed = _feeds[rpc] = JobFeed(rpc)
    return feed


@strawberry.type
class CareersSubscription:
    @strawberry.subscription(description="Jobs posted from now on that match the filter.")
    async def job_posted(self, info: strawberry.Info, filter: JobFilter | None = None) -> AsyncGenerator[Job, None]:
        context: Context = info.context
        flt = _filter(filter)
        feed = job_feed(context.rpc)
        await feed.start()
        queue = feed.add(flt)
        try:
            while True:
                yield Job.from_contract(await queue.get())
        finally:
            feed.remove(queue)


# -- the unsubscribe link of alert mails (GET shows a button, POST does it) ------------
_PAGE = (
    '<!doctype html><html><head><meta charset="utf-8"><title>Job alerts</title></head>'
    '<body style="font-family:sans-serif;max-width:40em;margin:3em auto">{body}</body></html>'
)


def unsubscribe_endpoint(rpc, timeout: float | None = None):
    """Starlette endpoint of /careers/unsubscribe?token=...: GET asks (a mail scanner
    that follows links changes nothing), POST turns the saved search's alerts off
    (also what a mail client's one-click unsubscribe sends, RFC 8058)."""

    async def endpoint(request: Request) -> HTMLResponse:
        token = request.query_params.get("token", "")
        if request.method == "GET":
            body = (
                "<h1>Turn off these job alerts?</h1><p>You will get no more mails for this saved search.</p>"
                f'<form method="post" action="?token={html.escape(token, quote=True)}">'
                '<button type="submit">Turn off alerts</button></form>'
            )
            return HTMLResponse(_PAGE.format(body=body))
        try:
            request_model = _request(contract.UnsubscribeRequest, token=token)
            await invoke(rpc, Careers.UNSUBSCRIBE, request_model, timeout=timeout, op="unsubscribe")
        except (BadRequest, NotFound):
            return HTMLResponse(
                _PAGE.format(body="<h1>This link is not valid</h1><p>The saved search may have been deleted.</p>"),
                status_code=404,
            )
        except PlatformError:
            return HTMLResponse(_PAGE.format(body="<h1>Please try again in a minute</h1>"), status_code=503)
        return HTMLResponse(
            _PAGE.format(body="<h1>Alerts are off</h1><p>You will get no more mails for this saved search.</p>")
        )

    return endpoint
