"""The embedded job index: tantivy, in-process, under DATA_DIR/search/careers.

Terms arrive analysed (analysis.py): each stem is one value of a `raw`-tokenised field,
so a field's terms and their frequencies are exactly the analyser's output. Every change
is one commit followed by a reload, so a search right after a post sees the job.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import cast

import tantivy

from medcode_common.text_analysis import write_atomically
from medcode_contracts.errors import Conflict

from . import COMPANY_WEIGHT, DESCRIPTION_WEIGHT, SPECIALTY_WEIGHT, TITLE_WEIGHT, JobDocument, JobQuery, SearchPage

SCHEMA_VERSION = 1
WRITER_HEAP = 15_000_000
_Occur = tantivy.Occur
TEXT_FIELDS = (
    ("title", TITLE_WEIGHT),
    ("specialty", SPECIALTY_WEIGHT),
    ("company", COMPANY_WEIGHT),
    ("description", DESCRIPTION_WEIGHT),
)


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    for name, _ in TEXT_FIELDS:
        sb.add_text_field(name, tokenizer_name="raw", index_option="freq")
    sb.add_text_field("location", tokenizer_name="raw", index_option="basic")
    sb.add_boolean_field("remote", indexed=True)
    sb.add_text_field("certifications", tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("pay", indexed=True, fast=True)
    sb.add_integer_field("posted", indexed=True, fast=True)
    sb.add_integer_field("expires", indexed=True, fast=True)
    return sb.build()


def _document(doc: JobDocument) -> tantivy.Document:
    out = tantivy.Document(id=doc.id, remote=doc.remote, pay=doc.pay, posted=doc.posted, expires=doc.expires)
    for name, values in (
        ("title", doc.title),
        ("specialty", doc.specialty),
        ("company", doc.company),
        ("description", doc.description),
        ("location", doc.location),
        ("certifications", doc.certifications),
    ):
        for value in values:
            out.add_text(name, value)
    return out


class EmbeddedJobIndex:
    def __init__(self, directory: Path):
        self.directory = Path(directory) / f"v{SCHEMA_VERSION}"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.schema = _schema()
        self._index = tantivy.Index(self.schema, path=str(self.directory), reuse=True)
        self._index.config_reader(reload_policy="manual")
        self._lock = threading.Lock()
        self._searcher = self._index.searcher()

    # -- writes ------------------------------------------------------------------------
    def _write(self, change) -> None:
        with self._lock:
            try:
                writer = self._index.writer(heap_size=WRITER_HEAP, num_threads=1)
            except ValueError as exc:
                raise Conflict(f"the job index at {self.directory} is held by another process ({exc})") from exc
            try:
                write_atomically(writer, change)
            finally:
                del writer  # releases the index's write lock
            self._index.reload()
            self._searcher = self._index.searcher()

    def upsert(self, documents: Iterable[JobDocument]) -> None:
        documents = list(documents)

        def change(writer):
            for document in documents:
                writer.delete_documents_by_term("id", document.id)
                writer.add_document(_document(document))

        self._write(change)

    def remove(self, job_ids: Iterable[str]) -> None:
        ids = list(job_ids)
        if not ids:
            return

        def change(writer):
            for job_id in ids:
                writer.delete_documents_by_term("id", job_id)

        self._write(change)

    def replace_all(self, documents: Iterable[JobDocument]) -> None:
        def change(writer):
            writer.delete_all_documents()
            for document in documents:
                writer.add_document(_document(document))

        self._write(change)

    # -- reads -------------------------------------------------------------------------
    def indexed_ids(self) -> set[str]:
        searcher = self._searcher
        total = searcher.num_docs
        if not total:
            return set()
        found = searcher.search(tantivy.Query.all_query(), limit=total, count=False).hits
        return {_job_id(searcher, address) for _, address in found}

    def search(self, query: JobQuery) -> SearchPage:
        searcher = self._searcher
        q = self._query(query)
        if query.by_date:
            result = searcher.search(
                q, limit=query.limit, offset=query.offset, count=True, order_by_field="posted", order=tantivy.Order.Desc
            )
            hits = [(_job_id(searcher, address), 0.0) for _, address in result.hits]
        else:
            result = searcher.search(q, limit=query.limit, offset=query.offset, count=True)
            hits = [(_job_id(searcher, address), float(score)) for score, address in result.hits]
        # count=True fills result.count; tantivy's stub does not declare it.
        return SearchPage(total=result.count, hits=hits)  # type: ignore[attr-defined]

    def close(self) -> None:
        self._searcher = None  # type: ignore[assignment]  # closed: nothing searches after this

    # -- query building ----------------------------------------------------------------
    def _query(self, query: JobQuery) -> tantivy.Query:
        Q, s = tantivy.Query, self.schema
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for word in query.words:
            clauses.append(
                (
                    _Occur.Must,
                    Q.boolean_query(
                        [
                            (_Occur.Should, Q.boost_query(Q.term_query(s, field, word), weight))
                            for field, weight in TEXT_FIELDS
                        ]
                    ),
                )
            )

        def only(q: tantivy.Query) -> None:
            clauses.append((_Occur.Must, Q.const_score_query(q, 0.0)))

        for word in query.location:
            only(Q.term_query(s, "location", word))
        if query.remote is not None:
            only(Q.term_query(s, "remote", query.remote))
        if query.certifications:
            only(Q.term_set_query(s, "certifications", list(query.certifications)))
        if query.min_salary is not None:
            only(Q.range_query(s, "pay", tantivy.FieldType.Integer, lower_bound=query.min_salary))
        if query.posted_since is not None:
            only(Q.range_query(s, "posted", tantivy.FieldType.Integer, lower_bound=query.posted_since))
        only(Q.range_query(s, "expires", tantivy.FieldType.Integer, lower_bound=query.today))
        if query.job_ids is not None:
            if not query.job_ids:
                return Q.empty_query()
            only(Q.term_set_query(s, "id", list(query.job_ids)))
        return Q.boolean_query(clauses)


def _job_id(searcher: tantivy.Searcher, address: tantivy.DocAddress) -> str:
    return cast(str, searcher.doc(address).get_first("id"))  # every document is written with its id
