"""The Elasticsearch job index: the same documents and queries as the embedded one.

One index (`<prefix>`, default `medcode-careers`). Text arrives analysed (analysis.py),
joined by spaces into whitespace-analysed fields, so ES holds the analyser's terms. Every
write waits for a refresh, so a search right after a post sees the job. The functions
that build request bodies are pure and unit-tested.
"""

from __future__ import annotations

from collections.abc import Iterable

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers

from medcode_contracts.errors import Unavailable

from . import COMPANY_WEIGHT, DESCRIPTION_WEIGHT, SPECIALTY_WEIGHT, TITLE_WEIGHT, JobDocument, JobQuery, SearchPage

DEFAULT_INDEX = "medcode-careers"
TEXT_FIELDS = (
    ("title", TITLE_WEIGHT),
    ("specialty", SPECIALTY_WEIGHT),
    ("company", COMPANY_WEIGHT),
    ("description", DESCRIPTION_WEIGHT),
)

SETTINGS = {
    "number_of_shards": 1,
    "auto_expand_replicas": "0-1",
    "analysis": {"analyzer": {"pretokenized": {"type": "custom", "tokenizer": "whitespace"}}},
}
MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "keyword"},
        **{name: {"type": "text", "analyzer": "pretokenized"} for name, _ in TEXT_FIELDS},
        "location": {"type": "text", "analyzer": "pretokenized", "index_options": "docs", "norms": False},
        "remote": {"type": "boolean"},
        "certifications": {"type": "keyword"},
        "pay": {"type": "long"},
        "posted": {"type": "long"},
        "expires": {"type": "long"},
    },
}


def source(doc: JobDocument) -> dict:
    return {
        "id": doc.id,
        "title": " ".join(doc.title),
        "specialty": " ".join(doc.specialty),
        "company": " ".join(doc.company),
        "description": " ".join(doc.description),
        "location": " ".join(doc.location),
        "remote": doc.remote,
        "certifications": list(doc.certifications),
        "pay": doc.pay,
        "posted": doc.posted,
        "expires": doc.expires,
    }


def query_body(query: JobQuery) -> dict:
    must = [
        {
            "bool": {
                "should": [{"term": {field: {"value": word, "boost": weight}}} for field, weight in TEXT_FIELDS],
                "minimum_should_match": 1,
            }
        }
        for word in query.words
    ]
    filters: list[dict] = [{"term": {"location": word}} for word in query.location]
    if query.remote is not None:
        filters.append({"term": {"remote": query.remote}})
    if query.certifications:
        filters.append({"terms": {"certifications": list(query.certifications)}})
    if query.min_salary is not None:
        filters.append({"range": {"pay": {"gte": query.min_salary}}})
    if query.posted_since is not None:
        filters.append({"range": {"posted": {"gte": query.posted_since}}})
    filters.append({"range": {"expires": {"gte": query.today}}})
    if query.job_ids is not None:
        filters.append({"terms": {"id": list(query.job_ids)}})
    bool_query: dict = {"filter": filters}
    if must:
        bool_query["must"] = must
    sort = [{"posted": "desc"}, {"id": "asc"}] if query.by_date else ["_score", {"posted": "desc"}, {"id": "asc"}]
    return {
        "from": query.offset,
        "size": query.limit,
        "track_total_hits": True,
        "query": {"bool": bool_query},
        "sort": sort,
        "_source": ["id"],
    }


class ElasticJobIndex:
    def __init__(
        self, url: str, index: str = DEFAULT_INDEX, client: Elasticsearch | None = None, request_timeout: float = 10.0
    ):
        self.index = index
        self.client = client or Elasticsearch(
            url, request_timeout=request_timeout, retry_on_timeout=True, max_retries=2
        )
        self._ensured = False

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ApiError, TransportError) as exc:
            raise Unavailable(f"Elasticsearch could not {what}: {exc}") from exc

    def _ensure(self) -> None:
        if self._ensured:
            return
        if not self._call("check the job index", self.client.indices.exists, index=self.index):
            try:
                self.client.indices.create(index=self.index, settings=SETTINGS, mappings=MAPPINGS)
            except ApiError as exc:
                if getattr(exc, "error", "") != "resource_already_exists_exception":
                    raise Unavailable(f"Elasticsearch could not create the job index: {exc}") from exc
        self._ensured = True

    def upsert(self, documents: Iterable[JobDocument]) -> None:
        self._ensure()
        actions = [{"_index": self.index, "_id": d.id, "_source": source(d)} for d in documents]
        self._call("index jobs", helpers.bulk, self.client, actions, refresh="wait_for")

    def remove(self, job_ids: Iterable[str]) -> None:
        ids = list(job_ids)
        if not ids:
            return
        self._ensure()
        self._call(
            "remove jobs",
            self.client.delete_by_query,
            index=self.index,
            query={"terms": {"id": ids}},
            refresh=True,
            conflicts="proceed",
        )

    def replace_all(self, documents: Iterable[JobDocument]) -> None:
        self._ensure()
        self._call(
            "clear the job index",
            self.client.delete_by_query,
            index=self.index,
            query={"match_all": {}},
            refresh=True,
            conflicts="proceed",
        )
        actions = ({"_index": self.index, "_id": d.id, "_source": source(d)} for d in documents)
        self._call("index jobs", helpers.bulk, self.client, actions, refresh="wait_for")

    def indexed_ids(self) -> set[str]:
        self._ensure()
        try:
            return {
                hit["_id"]
                for hit in helpers.scan(
                    self.client, index=self.index, query={"query": {"match_all": {}}}, _source=False
                )
            }
        except NotFoundError:
            return set()
        except (ApiError, TransportError) as exc:
            raise Unavailable(f"Elasticsearch could not list the job index: {exc}") from exc

    def search(self, query: JobQuery) -> SearchPage:
        self._ensure()
        response = self._call("search jobs", self.client.search, index=self.index, **query_body(query)).body
        hits = [
            (hit["_source"]["id"], 0.0 if query.by_date else float(hit.get("_score") or 0.0))
            for hit in response["hits"]["hits"]
        ]
        return SearchPage(total=response["hits"]["total"]["value"], hits=hits)

    def close(self) -> None:
        self.client.close()
