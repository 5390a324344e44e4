"""Job search: one engine-neutral query (`JobQuery`), two engines (embedded tantivy,
Elasticsearch), one behaviour suite (tests/unit/test_careers_search_behaviour.py).

The database is the truth; an index holds the *open* jobs (published, not expired) as
`JobDocument`s and answers with job ids, which the domain reads back from the database.
Text is analysed here (analysis.py) for both engines, so both index the same terms.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from medcode_common.cursors import decode_position, encode_position
from medcode_contracts.careers import Job, JobFilter, JobSort
from medcode_contracts.errors import BadRequest

from . import analysis

if TYPE_CHECKING:
    from medcode_common.settings import SearchSettings

NO_PAY = -1  # pay of a job that states no salary: never meets a minimum

# Field weights of a word: a match in the title says most about a job.
TITLE_WEIGHT = 3.0
SPECIALTY_WEIGHT = 2.0
COMPANY_WEIGHT = 1.5
DESCRIPTION_WEIGHT = 1.0


def epoch_seconds(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


@dataclass(frozen=True)
class JobDocument:
    """What an index holds of one open job."""

    id: str
    title: list[str]  # stems
    company: list[str]
    specialty: list[str]
    description: list[str]
    location: list[str]  # plain (unstemmed) words
    remote: bool
    certifications: list[str]
    pay: int  # the top of the salary range (NO_PAY when none is stated)
    posted: int  # epoch seconds
    expires: int  # date ordinal of the last day it is listed

    @classmethod
    def of(cls, job: Job) -> JobDocument:
        top = job.salary_max if job.salary_max is not None else job.salary_min
        return cls(
            id=job.id,
            title=analysis.stems(job.title),
            company=analysis.stems(job.company),
            specialty=analysis.stems(job.specialty or ""),
            description=analysis.stems(job.description),
            location=analysis.plain_words(job.location),
            remote=job.remote,
            certifications=list(job.certifications),
            pay=NO_PAY if top is None else top,
            posted=epoch_seconds(job.posted_at),
            expires=job.expires_on.toordinal(),
        )


@dataclass(frozen=True)
class JobQuery:
    """One search, engine-neutral. Every condition must hold; `words` rank."""

    words: tuple[str, ...] = ()  # stems; each must occur in some text field
    location: tuple[str, ...] = ()  # plain words; all must occur in the location
    remote: bool | None = None
    certifications: tuple[str, ...] = ()  # the job requires at least one of them
    min_salary: int | None = None  # the top of its range reaches it
    posted_since: int | None = None  # epoch seconds
    today: int = 0  # date ordinal: only jobs listed today or later
    job_ids: tuple[str, ...] | None = None  # restrict to these jobs (alert matching)
    sort: JobSort = JobSort.RELEVANCE
    offset: int = 0
    limit: int = 20

    @property
    def by_date(self) -> bool:
        return self.sort is JobSort.DATE or not self.words


@dataclass(frozen=True)
class SearchPage:
    total: int
    hits: list[tuple[str, float]]  # (job id, score), best first


def make_query(
    flt: JobFilter,
    now: datetime,
    *,
    sort: JobSort = JobSort.RELEVANCE,
    offset: int = 0,
    limit: int = 20,
    job_ids: Iterable[str] | None = None,
) -> JobQuery:
    words = analysis.query_stems(flt.query or "")
    location = analysis.plain_words(flt.location or "")
    if flt.query and not words:
        raise BadRequest("filter.query: has no words to search for")
    if flt.location and not location:
        raise BadRequest("filter.location: has no words to search for")
    today = now.astimezone(UTC).date()
    since = None
    if flt.posted_within_days is not None:
        since = int(now.timestamp()) - flt.posted_within_days * 86400
    return JobQuery(
        words=tuple(words),
        location=tuple(location),
        remote=flt.remote,
        certifications=tuple(flt.certifications or ()),
        min_salary=flt.min_salary,
        posted_since=since,
        today=today.toordinal(),
        job_ids=None if job_ids is None else tuple(job_ids),
        sort=sort,
        offset=offset,
        limit=limit,
    )


def encode_cursor(position: int) -> str:
    """Opaque cursor of the hit at 1-based `position` in the result list."""
    return encode_position("jobs1", position)


def decode_cursor(cursor: str) -> int:
    """The offset to continue after `cursor`; BadRequest when it is not one of ours."""
    position = decode_position("jobs1", cursor, max_digits=9)
    if position is None:
        raise BadRequest("after: not a valid cursor (use an endCursor from a previous page)")
    return position


@runtime_checkable
class JobIndex(Protocol):
    def upsert(self, documents: Iterable[JobDocument]) -> None:
        """Index open jobs (replacing what was indexed under their ids) in one commit;
        searchable at once."""

    def remove(self, job_ids: Iterable[str]) -> None:
        """Drop jobs that are no longer open; unknown ids are ignored."""

    def replace_all(self, documents: Iterable[JobDocument]) -> None:
        """Make the index hold exactly `documents` (rebuild after a lost or stale index)."""

    def indexed_ids(self) -> set[str]: ...

    def search(self, query: JobQuery) -> SearchPage: ...

    def close(self) -> None: ...


def make_index(settings: SearchSettings) -> JobIndex:
    """The engine SEARCH_BACKEND names: embedded tantivy under DATA_DIR/search/careers
    (default) or Elasticsearch at ELASTICSEARCH_URL."""
    from medcode_common.settings import SearchBackend as Kind

    if settings.SEARCH_BACKEND == Kind.ELASTICSEARCH:
        from .elastic import ElasticJobIndex

        return ElasticJobIndex(settings.ELASTICSEARCH_URL)
    from .embedded import EmbeddedJobIndex

    return EmbeddedJobIndex(settings.DATA_DIR / "search" / "careers")
