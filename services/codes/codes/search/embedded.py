"""The embedded search engine: one tantivy index in-process, under DATA_DIR/search/tantivy.

The index lives in a subdirectory named after planner.SCHEMA_VERSION (`v5/`). An index made
for another version (an older `vN/`, or the unversioned files of the first layout) is
outdated: it is left alone (a process still running the old code may read it), this backend
opens an empty index of its own version, so `indexed_editions()` is empty and the loader
(codes.loading.sync_search_index) rebuilds every system; the first successful rebuild then
deletes the outdated files.

Each system is replaced in ONE commit (delete the system's documents, add the new ones and
the system's *edition document*), so a searcher sees either the old set or the new one, and
the recorded edition can never disagree with the indexed codes (it is part of the same
commit; a crash before the commit leaves everything as it was).

Searches reuse one tantivy Searcher (a snapshot of the index); `refresh()` swaps in a new
snapshot after this process's own commits or another process's (the loader CLI).
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import tantivy

from medcode_common.text_analysis import write_atomically
from medcode_contracts.codes import CodeSystem, SearchRequest
from medcode_contracts.errors import Conflict

from ..domain import CodeRecord
from . import analysis
from .analysis import index_term_keys
from .execute import FlatExplain, Row, execute, flat_explain
from .planner import (
    CODE,
    FUZZY_SCORE,
    PREFIX_SCORE,
    SCHEMA_VERSION,
    TERM,
    TERM_SCORE,
    TERMS_WEIGHT,
    TITLE_WEIGHT,
    Plan,
    Word,
    code_order,
    make_plan,
    term_rank,
)

log = logging.getLogger(__name__)

KIND_CODE = "code"
KIND_EDITION = "edition"
WRITER_HEAP = 64_000_000  # bytes; tantivy flushes a segment when it is full: bounded memory
_Occur = tantivy.Occur
_STORED_ONLY = "medcode_stored_only"  # tokenizer of fields that are stored, not searched
_VERSION_DIR = re.compile(r"^v\d+$")
# Files tantivy keeps in an index directory (segments are named by a 32-hex uuid).
_TANTIVY_FILE = re.compile(
    r"^(meta\.json|\.managed\.json|\.tantivy-(meta|writer)\.lock|"
    r"[0-9a-f]{32}(\.\d+)?\.(fast|fieldnorm|idx|pos|store|term|del))$"
)


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("kind", tokenizer_name="raw", index_option="basic")
    # The system whose edition brought the document: the unit of replacement. It differs
    # from `system` for the HCPCS file's Level II modifiers (system MODIFIER).
    sb.add_text_field("load", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("system", stored=True, fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("key", tokenizer_name="raw", index_option="basic")
    # Code order as a number: sorting by a u64 fast field is far cheaper than by text.
    sb.add_unsigned_field("order", fast=True)
    sb.add_text_field("code", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("title", stored=True, tokenizer_name=analysis.STEM_TOKENIZER, index_option="freq")
    sb.add_text_field("terms", tokenizer_name=analysis.STEM_TOKENIZER, index_option="freq")
    sb.add_text_field("words", tokenizer_name=analysis.PLAIN_TOKENIZER, index_option="basic")
    # Alphabetic-index terms as whole keys (analysis.index_term_key), for the term segment.
    sb.add_text_field("index_terms", tokenizer_name="raw", index_option="basic")
    sb.add_unsigned_field("term_rank", fast=True)
    sb.add_boolean_field("billable", stored=True, indexed=True)
    sb.add_text_field("edition", stored=True, tokenizer_name="raw", index_option="basic")
    # A code's index terms that may explain a hit (execute.flat_explain), stored only (its tokenizer
    # makes no token). Text, not bytes: tantivy reads a stored bytes value back byte by byte,
    # a text value in one copy, and every hit fetched carries this field.
    sb.add_text_field("explain", stored=True, tokenizer_name=_STORED_ONLY, index_option="basic")
    return sb.build()


class EmbeddedBackend:
    """SearchBackend on a tantivy index in `directory`."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.index_directory = self.directory / f"v{SCHEMA_VERSION}"
        self.index_directory.mkdir(parents=True, exist_ok=True)
        if self.outdated_indexes():
            log.warning(
                "the search index at %s was made for another schema version; using a "
                "new one in %s (empty until the code sets are indexed again)",
                self.directory,
                self.index_directory,
            )
        self._schema = _schema()
        try:
            self._index = tantivy.Index(self._schema, path=str(self.index_directory), reuse=True)
        except ValueError as exc:
            raise RuntimeError(
                f"search index at {self.index_directory} cannot be opened ({exc}); it was made by "
                "an incompatible version: delete that directory and load the code sets again"
            ) from exc
        self._index.register_tokenizer(analysis.STEM_TOKENIZER, analysis.stem_analyzer())
        self._index.register_tokenizer(analysis.PLAIN_TOKENIZER, analysis.plain_analyzer())
        self._index.register_tokenizer(_STORED_ONLY, _no_tokens())
        # Manual reloads: a result list and its next page come from the same snapshot until
        # refresh() is called.
        self._index.config_reader(reload_policy="manual")
        self._write_lock = threading.Lock()
        searcher = self._index.searcher()
        self._searcher: tantivy.Searcher | None = searcher  # None once closed
        self._editions = self._read_editions(searcher)

    # -- SearchBackend ------------------------------------------------------------------

    def indexed_editions(self) -> dict[str, str]:
        return dict(self._editions)

    def replace_system(self, system: str, edition_id: str, records: Iterable[CodeRecord]) -> None:
        system = CodeSystem(system).value
        with self._write_lock:
            try:
                writer = self._index.writer(heap_size=WRITER_HEAP, num_threads=1)
            except ValueError as exc:
                raise Conflict(
                    f"the search index at {self.directory} is being written by another "
                    f"process ({exc}); try again when that load has finished"
                ) from exc

            def change(writer: tantivy.IndexWriter) -> None:
                writer.delete_documents_by_term("load", system)
                for record in records:
                    writer.add_document(_document(system, record))
                writer.add_document(tantivy.Document(kind=KIND_EDITION, load=system, edition=edition_id))

            try:
                write_atomically(writer, change)
            finally:
                del writer  # releases the index's write lock
                analysis.analyse_term.cache_clear()  # of use while indexing only
        self.refresh()
        self._delete_outdated()

    def search(self, request: SearchRequest) -> dict:
        if self._searcher is None:
            raise RuntimeError("the search index is closed")
        run = _Run(self._schema, self._searcher)
        return execute(make_plan(request, run.known, run.known_terms), run)

    def refresh(self) -> None:
        self._index.reload()
        searcher = self._index.searcher()
        self._editions = self._read_editions(searcher)
        self._searcher = searcher

    def close(self) -> None:
        self._searcher = None

    def outdated_indexes(self) -> list[Path]:
        """Index files and directories of other schema versions under `directory`."""
        found = []
        for path in sorted(self.directory.iterdir()):
            if path.is_dir():
                if _VERSION_DIR.match(path.name) and path != self.index_directory:
                    found.append(path)
            elif _TANTIVY_FILE.match(path.name):
                found.append(path)
        return found

    # -- helpers --------------------------------------------------------------------------

    def _delete_outdated(self) -> None:
        """Once this version holds codes, an outdated index is of no use to anyone."""
        for path in self.outdated_indexes():
            try:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
            except OSError as exc:  # e.g. held open elsewhere on Windows: try next load
                log.warning("could not delete the outdated search index file %s: %s", path, exc)
                continue
            log.info("deleted the outdated search index file %s", path)

    def _read_editions(self, searcher: tantivy.Searcher) -> dict[str, str]:
        query = tantivy.Query.term_query(self._schema, "kind", KIND_EDITION)
        found = searcher.search(query, limit=100, count=False).hits
        editions: dict[str, str] = {}
        for _, address in found:
            doc = searcher.doc(address)
            load, edition = doc.get_first("load"), doc.get_first("edition")
            if load is not None and edition is not None:  # replace_system writes both on every one
                editions[load] = edition
        return editions


def _no_tokens() -> tantivy.TextAnalyzer:
    """An analyzer that makes no token of any text (a regex that matches nothing)."""
    return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(r"[^\s\S]")).build()


def _document(load: str, record: CodeRecord) -> tantivy.Document:
    key = record.key
    doc = tantivy.Document(
        kind=KIND_CODE,
        load=load,
        system=CodeSystem(record.system).value,
        key=key,
        code=record.code,
        title=record.title,
        terms=record.search_terms(),
        words=analysis.typo_text(record),
        billable=record.billable,
        index_terms=index_term_keys(record.lay_terms),
    )
    doc.add_unsigned("order", code_order(key))  # keyword ints would be typed i64
    doc.add_unsigned("term_rank", term_rank(key, record.billable))
    explained = analysis.explained_terms(record.lay_terms, record.lay_paths, record.title)
    if explained:
        doc.add_text("explain", flat_explain(explained))
    return doc


def _prefix_query(schema: tantivy.Schema, field: str, prefix: str) -> tantivy.Query:
    """Terms starting with `prefix` (a Levenshtein-0 prefix automaton: unlike a regex query
    it needs no regex compilation per query)."""
    return tantivy.Query.fuzzy_term_query(schema, field, prefix, distance=0, prefix=True)


class _Run:
    """One plan's queries against one searcher snapshot (the `Engine` of execute.py)."""

    def __init__(self, schema: tantivy.Schema, searcher: tantivy.Searcher):
        self.schema = schema
        self.searcher = searcher
        self._queries: dict[tuple[str, bool], tantivy.Query] = {}

    def known(self, words: Sequence[Word]) -> list[bool]:
        s = self.searcher
        return [
            s.doc_freq("title", w.stem) > 0
            or s.doc_freq("terms", w.stem) > 0
            or s.doc_freq("words", w.plain) > 0
            or (w.prefix and bool(s.terms_with_prefix("words", w.plain, limit=1)))
            for w in words
        ]

    def known_terms(self, keys: Sequence[str]) -> list[bool]:
        return [self.searcher.doc_freq("index_terms", key) > 0 for key in keys]

    def system_counts(self, plan: Plan, segment: str) -> dict[str, int]:
        query = self._query(plan, segment, with_systems=False)
        result = self.searcher.aggregate(query, {"s": {"terms": {"field": "system", "size": 32}}})
        return {b["key"]: b["doc_count"] for b in result["s"]["buckets"]}

    def fetch(self, plan: Plan, segment: str, offset: int, limit: int) -> list[Row]:
        query = self._query(plan, segment, with_systems=True)
        if segment in (CODE, TERM):
            found = self.searcher.search(
                query,
                limit=limit,
                offset=offset,
                count=False,
                order_by_field="order" if segment == CODE else "term_rank",
                order=tantivy.Order.Asc,
            ).hits
            scored = [(1.0 if segment == CODE else TERM_SCORE, address) for _, address in found]
        else:
            scored = self.searcher.search(query, limit=limit, offset=offset, count=False).hits
        rows: list[Row] = []
        for score, address in scored:
            doc = self.searcher.doc(address)
            summary = {
                "system": doc.get_first("system"),
                "code": doc.get_first("code"),
                "title": doc.get_first("title"),
                "billable": doc.get_first("billable"),
            }
            raw = doc.get_first("explain")
            rows.append((float(score), summary, FlatExplain(raw) if raw else ()))
        return rows

    # -- query building ---------------------------------------------------------------------

    def _query(self, plan: Plan, segment: str, with_systems: bool) -> tantivy.Query:
        cached = self._queries.get((segment, with_systems))
        if cached is not None:
            return cached
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        if segment == CODE:
            assert plan.code_prefix is not None  # the plan has a CODE segment only for a code prefix
            clauses.append((_Occur.Must, self._code_prefix(plan.code_prefix)))
        else:
            if segment == TERM:
                clauses.append((_Occur.Must, self._filter(self._index_terms(plan))))
            else:
                clauses.extend(self._text(plan))
                if plan.term_keys:
                    clauses.append((_Occur.MustNot, self._index_terms(plan)))
            if plan.code_prefix:
                clauses.append((_Occur.MustNot, self._code_prefix(plan.code_prefix)))
        if plan.billable_only:
            clauses.append((_Occur.Must, self._filter(tantivy.Query.term_query(self.schema, "billable", True))))
        if with_systems and plan.systems:
            clauses.append(
                (_Occur.Must, self._filter(tantivy.Query.term_set_query(self.schema, "system", list(plan.systems))))
            )
        query = tantivy.Query.boolean_query(clauses)
        self._queries[(segment, with_systems)] = query
        return query

    @staticmethod
    def _filter(query: tantivy.Query) -> tantivy.Query:
        return tantivy.Query.const_score_query(query, 0.0)

    def _index_terms(self, plan: Plan) -> tantivy.Query:
        # Term queries, not a term_set_query: that one walks the term dictionary (~0.15 ms a
        # query here), a handful of term lookups costs next to nothing.
        terms = [tantivy.Query.term_query(self.schema, "index_terms", key) for key in plan.term_keys]
        return terms[0] if len(terms) == 1 else tantivy.Query.boolean_query([(_Occur.Should, query) for query in terms])

    def _code_prefix(self, prefix: str) -> tantivy.Query:
        return _prefix_query(self.schema, "key", prefix)

    def _text(self, plan: Plan) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        out = []
        for clause in plan.clauses:
            alternatives = [self._all(words) for words in clause.alternatives]
            query = (
                alternatives[0]
                if len(alternatives) == 1
                else tantivy.Query.boolean_query([(_Occur.Should, q) for q in alternatives])
            )
            out.append((_Occur.Must if clause.required else _Occur.Should, query))
        return out

    def _all(self, words: tuple[Word, ...]) -> tantivy.Query:
        if len(words) == 1:
            return self._word(words[0])
        return tantivy.Query.boolean_query([(_Occur.Must, self._word(w)) for w in words])

    def _word(self, word: Word) -> tantivy.Query:
        q = tantivy.Query
        s = self.schema
        parts = [
            q.boost_query(q.term_query(s, "title", word.stem), TITLE_WEIGHT),
            q.boost_query(q.term_query(s, "terms", word.stem), TERMS_WEIGHT),
        ]
        for distance in range(1, word.fuzzy + 1):  # see planner.FUZZY_SCORE: closer ranks higher
            parts.append(
                q.const_score_query(
                    q.fuzzy_term_query(s, "words", word.plain, distance=distance), FUZZY_SCORE / word.fuzzy
                )
            )
        if word.prefix:
            parts.append(q.const_score_query(_prefix_query(s, "words", word.plain), PREFIX_SCORE))
        return q.boolean_query([(_Occur.Should, p) for p in parts])
