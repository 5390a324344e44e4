"""The job-search behaviour suite: what coders expect of the board's search, on each engine:
the embedded tantivy index, and Elasticsearch when one answers at ELASTICSEARCH_URL
(skipped otherwise, saying so). Jobs are made up."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from careers.search import JobDocument, decode_cursor, encode_cursor, make_query
from careers.search.elastic import ElasticJobIndex, query_body
from careers.search.embedded import EmbeddedJobIndex
from medcode_common.testing import ELASTICSEARCH_URL, elastic_or_skip
from medcode_contracts import careers as c
from medcode_contracts.errors import BadRequest

ENGINES = ["embedded", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)]
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def job(job_id: str, days_ago: int = 0, **fields) -> c.Job:
    base = dict(
        title="Medical Coder",
        company="Made-up Health",
        location="Austin, TX",
        remote=False,
        employment_type="Full-time",
        salary_min=None,
        salary_max=None,
        certifications=["CPC"],
        specialty=None,
        description="Assign diagnosis and procedure codes for clinic visits.",
        expires_on=date(2026, 7, 1),
        status="published",
        sample=False,
    )
    base.update(fields)
    return c.Job(id=job_id, employer_id="emp", posted_at=(NOW - timedelta(days=days_ago)).isoformat(), **base)


JOBS = [
    job(
        "risk",
        days_ago=1,
        title="Remote Risk Adjustment Coder",
        location="Anywhere in the US",
        remote=True,
        certifications=["CRC"],
        salary_min=55000,
        salary_max=68000,
        specialty="Risk adjustment",
    ),
    job(
        "inpatient",
        days_ago=3,
        title="Inpatient Coding Specialist",
        location="Columbus, OH",
        certifications=["CCS", "RHIT"],
        salary_min=62000,
        salary_max=74000,
        specialty="Inpatient",
    ),
    job(
        "ed",
        days_ago=10,
        title="Emergency Department Coder",
        location="Denver, CO",
        remote=True,
        certifications=["CPC", "CCS-P"],
        salary_min=50000,
        salary_max=58000,
        specialty="Emergency medicine",
    ),
    job(
        "auditor",
        days_ago=20,
        title="Coding Auditor",
        company="Oncology Partners",
        location="Austin, TX",
        certifications=["CPMA"],
        salary_min=75000,
        salary_max=90000,
        description="Audit physician coding against documentation and teach providers.",
    ),
    job(
        "nopay",
        days_ago=2,
        title="Per Diem Coding Support",
        location="Tampa, FL",
        remote=True,
        certifications=["CPC"],
        description="Clear oncology backlogs when volume peaks.",
    ),
    job(
        "old",
        days_ago=40,
        title="Cardiology Coder",
        location="Nashville, TN",
        certifications=["CIC"],
        salary_min=54000,
        salary_max=63000,
        specialty="Cardiology",
    ),
    job("gone", days_ago=30, title="Inpatient Coder (expired)", expires_on=date(2026, 5, 31), certifications=["CCS"]),
]


def _elastic_or_skip() -> ElasticJobIndex:
    index = ElasticJobIndex(ELASTICSEARCH_URL, index=f"medcode-careers-test-{uuid.uuid4().hex[:8]}", request_timeout=30)
    return elastic_or_skip(index, "Elasticsearch run of the job-search suite")


@pytest.fixture(params=ENGINES)
def index(request, tmp_path):
    if request.param == "embedded":
        built = EmbeddedJobIndex(tmp_path / "jobs")
    else:
        built = _elastic_or_skip()
    built.replace_all(JobDocument.of(j) for j in JOBS)
    yield built
    if request.param == "elasticsearch":
        built.client.indices.delete(index=built.index, ignore_unavailable=True)
    built.close()


def ids(index, sort=c.JobSort.RELEVANCE, offset=0, limit=50, job_ids=None, **flt) -> list[str]:
    query = make_query(c.JobFilter(**flt), NOW, sort=sort, offset=offset, limit=limit, job_ids=job_ids)
    return [job_id for job_id, _ in index.search(query).hits]


def total(index, **flt) -> int:
    return index.search(make_query(c.JobFilter(**flt), NOW, limit=1)).total


def test_without_a_filter_open_jobs_come_newest_first_and_expired_ones_never(index):
    assert ids(index) == ["risk", "nopay", "inpatient", "ed", "auditor", "old"]
    assert total(index) == 6


@pytest.mark.parametrize(
    "query, expected",
    [
        ("coders", {"risk", "ed", "old"}),  # stems: coders = coder
        ("risk adjustment", {"risk"}),  # every word must match
        ("oncology", {"auditor", "nopay"}),  # company and description count
        ("emergency medicine", {"ed"}),  # specialty counts
        ("Inpatient coding in Ohio", set()),  # a word no job has: nothing
        ("CODING specialist", {"inpatient"}),  # case does not matter
    ],
)
def test_words_match_title_company_description_and_specialty(index, query, expected):
    assert set(ids(index, query=query)) == expected


def test_a_title_match_ranks_above_a_description_match(index):
    assert ids(index, query="oncology")[0] == "auditor"  # company "Oncology Partners" over a description word
    assert ids(index, query="coder")[0] in {"risk", "ed", "old"}


def test_location_words_must_all_be_there(index):
    assert set(ids(index, location="austin")) == {"auditor"}
    assert set(ids(index, location="Austin, TX")) == {"auditor"}
    assert ids(index, location="Austin, OH") == []


@pytest.mark.parametrize(
    "remote, expected", [(True, {"risk", "ed", "nopay"}), (False, {"inpatient", "auditor", "old"})]
)
def test_remote_filter(index, remote, expected):
    assert set(ids(index, remote=remote)) == expected


def test_certifications_filter_finds_jobs_requiring_any_of_them(index):
    assert set(ids(index, certifications=["CCS"])) == {"inpatient"}
    assert set(ids(index, certifications=["ccs-p", "CRC"])) == {"risk", "ed"}


def test_min_salary_compares_with_the_top_of_the_range_and_skips_unstated_pay(index):
    assert set(ids(index, min_salary=70000)) == {"inpatient", "auditor"}
    assert set(ids(index, min_salary=0)) == {"risk", "inpatient", "ed", "auditor", "old"}


def test_posted_within_days(index):
    assert set(ids(index, posted_within_days=5)) == {"risk", "nopay", "inpatient"}
    assert set(ids(index, posted_within_days=30)) == {"risk", "nopay", "inpatient", "ed", "auditor"}


def test_filters_combine(index):
    assert ids(index, query="coder", remote=True, certifications=["CPC"], min_salary=55000) == ["ed"]


def test_sort_by_date_ignores_relevance(index):
    assert ids(index, query="coder", sort=c.JobSort.DATE) == ["risk", "ed", "old"]


def test_pages_walk_every_hit_once(index):
    seen = []
    for offset in range(0, 6, 4):
        seen += ids(index, offset=offset, limit=4)
    assert seen == ids(index) and len(set(seen)) == 6


def test_restricted_to_some_jobs(index):
    assert ids(index, job_ids=["risk", "gone"], remote=True) == ["risk"]
    assert ids(index, job_ids=[]) == []


def test_upsert_replaces_and_remove_drops(index):
    index.upsert([JobDocument.of(job("risk", title="Remote Oncology Coder", remote=True))])
    assert ids(index, query="risk") == [] and ids(index, query="oncology coder") == ["risk"]
    index.remove(["risk", "unknown"])
    assert "risk" not in ids(index) and index.indexed_ids() == {"inpatient", "ed", "auditor", "nopay", "old", "gone"}


def test_a_query_of_only_punctuation_is_a_clear_error():
    with pytest.raises(BadRequest, match="filter.query"):
        make_query(c.JobFilter(query="!!! ..."), NOW)


@pytest.mark.parametrize("cursor", ["", "nope", "am9iczE6eA", encode_cursor(3)[:-2] + "!!"])
def test_malformed_cursors_are_refused(cursor):
    with pytest.raises(BadRequest, match="not a valid cursor"):
        decode_cursor(cursor)


def test_cursor_round_trip():
    assert decode_cursor(encode_cursor(40)) == 40


def test_elasticsearch_body_filters_like_the_embedded_index():
    body = query_body(
        make_query(c.JobFilter(query="coders", remote=True, certifications=["CPC"], min_salary=1), NOW, limit=5)
    )
    assert body["query"]["bool"]["must"][0]["bool"]["should"][0] == {
        "term": {"title": {"value": "coder", "boost": 3.0}}
    }
    assert {"term": {"remote": True}} in body["query"]["bool"]["filter"]
    assert {"range": {"expires": {"gte": NOW.date().toordinal()}}} in body["query"]["bool"]["filter"]
    assert body["sort"][0] == "_score" and body["size"] == 5
