"""The Elasticsearch engine: the same plan, translated to ES query DSL.

Layout: one index per loaded system edition (`<prefix>-<system>-<millis>`), all reachable
through one read alias (`<prefix>`). Replacing a system builds its new index aside, then
swaps the alias in ONE `_aliases` call (remove old, add new), which ES applies atomically:
a search sees the old codes of that system or the new ones, never a mix. The edition id
travels in the index mapping's `_meta`, so it switches in the same step.

Text is indexed pre-analysed (analysis.py's tokens joined by spaces, whitespace-tokenised
by ES), so ES holds exactly the terms the embedded engine holds. Searches use
dfs_query_then_fetch so BM25 statistics span all system indexes, as in the single tantivy
index.

The mapping's `_meta` also carries planner.SCHEMA_VERSION: `indexed_editions()` ignores an
index made for another version, so the loader rebuilds that system (with the new mapping)
and swaps it in; until then searches still run on it (sorts name an `unmapped_type`).

The functions that build request bodies are pure (no client) and unit-tested.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers

from medcode_contracts.codes import CodeSystem, SearchRequest
from medcode_contracts.errors import Unavailable

from ..domain import CodeRecord
from . import analysis, planner  # planner.NAME: its ranking weights
from .execute import Row, execute
from .planner import CODE, SCHEMA_VERSION, TERM, Plan, Word, make_plan, term_rank

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "medcode-codes"
BULK_CHUNK = 2000
MAX_FUZZY_EXPANSIONS = 50
SOURCE_FIELDS = ["system", "code", "title", "billable", "explain"]

INDEX_SETTINGS = {
    "number_of_shards": 1,
    "auto_expand_replicas": "0-1",
    "analysis": {"analyzer": {"pretokenized": {"type": "custom", "tokenizer": "whitespace"}}},
}


def index_mappings(load: str, edition_id: str) -> dict:
    text = {"type": "text", "analyzer": "pretokenized"}
    return {
        "dynamic": "strict",
        "_meta": {"load": load, "edition": edition_id, "schema": SCHEMA_VERSION},
        "properties": {
            "load": {"type": "keyword"},
            "system": {"type": "keyword"},
            "key": {"type": "keyword"},
            "code": {"type": "keyword", "index": False},
            "title": {"type": "keyword", "index": False},
            "billable": {"type": "boolean"},
            "title_stems": text,
            "terms_stems": text,
            "words": {**text, "index_options": "docs", "norms": False},
            # Alphabetic-index terms as whole keys (analysis.index_term_key): term segment.
            "index_terms": {"type": "keyword"},
            "term_rank": {"type": "long"},
            # The code's index terms with their paths, to explain a hit (not searched).
            "explain": {"type": "object", "enabled": False},
        },
    }


def document(load: str, record: CodeRecord) -> dict:
    terms = record.search_terms()
    text = analysis.typo_text(record)
    return {
        "load": load,
        "system": CodeSystem(record.system).value,
        "key": record.key,
        "code": record.code,
        "title": record.title,
        "billable": record.billable,
        "title_stems": " ".join(analysis.stems(record.title)),
        # One value per term: ES counts positions per value, like tantivy's multi-values.
        "terms_stems": [" ".join(analysis.stems(t)) for t in terms],
        "words": [" ".join(analysis.plain_words(t)) for t in text],
        "index_terms": analysis.index_term_keys(record.lay_terms),
        "term_rank": term_rank(record.key, record.billable),
        "explain": {"terms": analysis.explained_terms(record.lay_terms, record.lay_paths, record.title)},
    }


# -- query translation (pure) ------------------------------------------------------------


def word_query(word: Word) -> dict:
    should: list[dict] = [
        {"term": {"title_stems": {"value": word.stem, "boost": planner.TITLE_WEIGHT}}},
        {"term": {"terms_stems": {"value": word.stem, "boost": planner.TERMS_WEIGHT}}},
    ]
    for distance in range(1, word.fuzzy + 1):  # see planner.FUZZY_SCORE: closer ranks higher
        should.append(
            {
                "constant_score": {
                    "boost": planner.FUZZY_SCORE / word.fuzzy,
                    "filter": {
                        "fuzzy": {
                            "words": {
                                "value": word.plain,
                                "fuzziness": distance,
                                "transpositions": True,
                                "prefix_length": 0,
                                "max_expansions": MAX_FUZZY_EXPANSIONS,
                            }
                        }
                    },
                }
            }
        )
    if word.prefix:
        should.append(
            {"constant_score": {"boost": planner.PREFIX_SCORE, "filter": {"prefix": {"words": {"value": word.plain}}}}}
        )
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _all_words(words: tuple[Word, ...]) -> dict:
    if len(words) == 1:
        return word_query(words[0])
    return {"bool": {"must": [word_query(w) for w in words]}}


def code_prefix_query(prefix: str) -> dict:
    return {"prefix": {"key": {"value": prefix}}}


def index_terms_query(plan: Plan) -> dict:
    return {"terms": {"index_terms": list(plan.term_keys)}}


def segment_query(plan: Plan, segment: str, with_systems: bool) -> dict:
    """The bool query of one segment of a plan (see planner.py), without the hits of the
    segments before it."""
    must: list[dict] = []
    should: list[dict] = []
    must_not: list[dict] = []
    filters: list[dict] = []
    if segment == CODE:
        assert plan.code_prefix is not None  # the plan has a CODE segment only for a code prefix
        filters.append(code_prefix_query(plan.code_prefix))
    elif segment == TERM:
        filters.append(index_terms_query(plan))
        if plan.code_prefix:
            must_not.append(code_prefix_query(plan.code_prefix))
    else:
        for clause in plan.clauses:
            alternatives = [_all_words(words) for words in clause.alternatives]
            query = (
                alternatives[0]
                if len(alternatives) == 1
                else {"bool": {"should": alternatives, "minimum_should_match": 1}}
            )
            (must if clause.required else should).append(query)
        if plan.term_keys:
            must_not.append(index_terms_query(plan))
        if plan.code_prefix:
            must_not.append(code_prefix_query(plan.code_prefix))
    if plan.billable_only:
        filters.append({"term": {"billable": True}})
    if with_systems and plan.systems:
        filters.append({"terms": {"system": list(plan.systems)}})
    body: dict = {}
    for name, part in (("must", must), ("should", should), ("must_not", must_not), ("filter", filters)):
        if part:
            body[name] = part
    return {"bool": body}


def counts_body(plan: Plan, segment: str) -> dict:
    return {
        "size": 0,
        "track_total_hits": False,
        "query": segment_query(plan, segment, with_systems=False),
        "aggs": {"systems": {"terms": {"field": "system", "size": 64}}},
    }


def page_body(plan: Plan, segment: str, offset: int, limit: int) -> dict:
    sort: list[str | dict]
    if segment == CODE:
        sort = [{"key": "asc"}]
    elif segment == TERM:
        # unmapped_type: an index of an older mapping (until its rebuild) has no term_rank.
        sort = [{"term_rank": {"order": "asc", "unmapped_type": "long"}}, {"key": "asc"}, {"system": "asc"}]
    else:
        sort = ["_score", {"key": "asc"}, {"system": "asc"}]
    return {
        "from": offset,
        "size": limit,
        "track_total_hits": False,
        "query": segment_query(plan, segment, with_systems=True),
        "sort": sort,
        "_source": SOURCE_FIELDS,
    }


def lexicon_body(words: Sequence[Word]) -> dict:
    """One request saying which words the index knows (see planner.Lexicon)."""
    aggs = {}
    for i, w in enumerate(words):
        should: list[dict] = [
            {"term": {"title_stems": w.stem}},
            {"term": {"terms_stems": w.stem}},
            {"term": {"words": w.plain}},
        ]
        if w.prefix:
            should.append({"prefix": {"words": {"value": w.plain}}})
        aggs[f"w{i}"] = {"filter": {"bool": {"should": should, "minimum_should_match": 1}}}
    return {"size": 0, "track_total_hits": False, "aggs": aggs}


def lexicon_answer(response: dict, count: int) -> list[bool]:
    return [response["aggregations"][f"w{i}"]["doc_count"] > 0 for i in range(count)]


def rows_of(response: dict, segment: str) -> list[Row]:
    rows: list[Row] = []
    for hit in response["hits"]["hits"]:
        src = hit["_source"]
        score = 1.0 if segment == CODE else planner.TERM_SCORE if segment == TERM else float(hit.get("_score") or 0.0)
        explain = (src.get("explain") or {}).get("terms") or ()
        rows.append(
            (
                score,
                {"system": src["system"], "code": src["code"], "title": src["title"], "billable": src["billable"]},
                tuple(tuple(pair) for pair in explain),
            )
        )
    return rows


# -- backend -------------------------------------------------------------------------------


class ElasticBackend:
    """SearchBackend on an Elasticsearch cluster at `url`."""

    def __init__(
        self,
        url: str,
        index_prefix: str = DEFAULT_PREFIX,
        client: Elasticsearch | None = None,
        request_timeout: float = 10.0,
    ):
        self.url = url
        self.alias = index_prefix
        self.client = client or Elasticsearch(
            url, request_timeout=request_timeout, retry_on_timeout=True, max_retries=2
        )

    # SearchBackend

    def indexed_editions(self) -> dict[str, str]:
        with self._errors("read the indexed editions"):
            try:
                indices = list(self.client.indices.get_alias(name=self.alias).body)
            except NotFoundError:
                return {}
            if not indices:
                return {}
            mappings = self.client.indices.get_mapping(index=",".join(indices)).body
        editions = {}
        for name, body in mappings.items():
            meta = body["mappings"].get("_meta") or {}
            if "load" not in meta:
                continue
            if meta.get("schema") != SCHEMA_VERSION:
                # Not indexed as this version indexes: the loader rebuilds it.
                log.warning(
                    "search index %s has mapping version %s, not %s: outdated", name, meta.get("schema"), SCHEMA_VERSION
                )
                continue
            editions[meta["load"]] = meta["edition"]
        return editions

    def replace_system(self, system: str, edition_id: str, records: Iterable[CodeRecord]) -> None:
        system = CodeSystem(system).value
        pattern = f"{self.alias}-{system.lower()}-*"
        new_index = f"{self.alias}-{system.lower()}-{int(time.time() * 1000)}"
        with self._errors(f"replace the {system} codes"):
            current = self._aliased(pattern)
            self._delete_leftovers(pattern, keep=current)
            self.client.indices.create(
                index=new_index,
                settings={**INDEX_SETTINGS, "refresh_interval": "-1"},
                mappings=index_mappings(system, edition_id),
            )
            try:
                for _ok, _item in helpers.streaming_bulk(
                    self.client, self._actions(new_index, system, records), chunk_size=BULK_CHUNK, raise_on_error=True
                ):
                    pass
                self.client.indices.put_settings(index=new_index, settings={"refresh_interval": "1s"})
                self.client.indices.refresh(index=new_index)
                actions = [{"add": {"index": new_index, "alias": self.alias}}]
                actions += [{"remove": {"index": old, "alias": self.alias}} for old in current]
                self.client.indices.update_aliases(actions=actions)
            except BaseException:
                self.client.indices.delete(index=new_index, ignore_unavailable=True)
                raise
            for old in current:
                self.client.indices.delete(index=old, ignore_unavailable=True)

    def search(self, request: SearchRequest) -> dict:
        with self._errors("search"):
            run = _Run(self.client, self.alias)
            return execute(make_plan(request, run.known), run)

    def refresh(self) -> None:
        # Searches always go to the cluster, which makes committed loads visible itself.
        pass

    def close(self) -> None:
        self.client.close()

    # helpers

    def _actions(self, index: str, load: str, records: Iterable[CodeRecord]) -> Iterator[dict]:
        for record in records:
            yield {
                "_index": index,
                "_id": f"{CodeSystem(record.system).value}:{record.key}",
                "_source": document(load, record),
            }

    def _aliased(self, pattern: str) -> list[str]:
        try:
            return sorted(self.client.indices.get_alias(index=pattern, name=self.alias).body)
        except NotFoundError:
            return []

    def _delete_leftovers(self, pattern: str, keep: list[str]) -> None:
        """Indexes of an earlier load that died before its alias swap."""
        existing = self.client.indices.get(index=pattern, ignore_unavailable=True, allow_no_indices=True).body
        for name in existing:
            if name not in keep:
                log.warning("deleting %s, left over by an interrupted load", name)
                self.client.indices.delete(index=name, ignore_unavailable=True)

    def _errors(self, what: str) -> _ErrorContext:
        return _ErrorContext(self.url, what)


class _ErrorContext:
    """Turns transport failures into Unavailable. The message reaches clients, so it names
    neither the cluster's URL nor the transport's text: those go to the log."""

    def __init__(self, url: str, what: str):
        self.url = url
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, (TransportError, ApiError)) and not isinstance(exc, NotFoundError):
            log.warning("Elasticsearch at %s could not %s: %s", self.url, self.what, exc)
            raise Unavailable(f"The search engine could not {self.what} just now: try again shortly.") from exc
        return False


class _Run:
    """One plan's requests (the `Engine` of execute.py)."""

    def __init__(self, client: Elasticsearch, alias: str):
        self.client = client
        self.alias = alias

    def _search(self, body: dict) -> dict:
        try:
            return self.client.search(
                index=self.alias,
                search_type="dfs_query_then_fetch",
                ignore_unavailable=True,
                allow_no_indices=True,
                **body,
            ).body
        except NotFoundError:
            return {"hits": {"hits": []}, "aggregations": {}}

    def known(self, words: Sequence[Word]) -> list[bool]:
        response = self._search(lexicon_body(words))
        if not response.get("aggregations"):
            return [False] * len(words)
        return lexicon_answer(response, len(words))

    def system_counts(self, plan: Plan, segment: str) -> dict[str, int]:
        response = self._search(counts_body(plan, segment))
        buckets = (response.get("aggregations") or {}).get("systems", {}).get("buckets", [])
        return {b["key"]: b["doc_count"] for b in buckets}

    def fetch(self, plan: Plan, segment: str, offset: int, limit: int) -> list[Row]:
        return rows_of(self._search(page_body(plan, segment, offset, limit)), segment)
