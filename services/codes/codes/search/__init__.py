"""Code search: one query planner, two engines (embedded tantivy, Elasticsearch).

The planner (`planner.py`) turns what a coder types into an engine-neutral plan; each
backend (`embedded.py`, `elastic.py`) implements `SearchBackend` below, so both pass the
same behaviour suite (tests/unit/search_behaviour.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from medcode_contracts.codes import SearchRequest

if TYPE_CHECKING:
    from medcode_common.settings import Settings

    from ..domain import CodeRecord


@runtime_checkable
class SearchBackend(Protocol):
    def indexed_editions(self) -> dict[str, str]:
        """System -> id of the edition whose codes are indexed (as passed to replace_system)."""

    def replace_system(self, system: str, edition_id: str, records: Iterable[CodeRecord]) -> None:
        """Index `records` as the codes of `system` (an edition's system: the HCPCS file also
        brings MODIFIER records), replacing what was indexed for it, atomically: searchers
        see the old codes or the new ones, never a mix. Streams (bounded memory) and
        persists, so a restart keeps it. If `records` raises, the old codes stay."""

    def search(self, request: SearchRequest) -> dict:
        """The SearchResult in its JSON form (as the RPC replies it; execute.execute).
        BadRequest (medcode_contracts.errors) for an empty query or a malformed cursor."""

    def refresh(self) -> None:
        """See commits made since (by this or another process, e.g. the loader CLI)."""

    def close(self) -> None: ...


def make_backend(settings: Settings) -> SearchBackend:
    """The backend SEARCH_BACKEND names: embedded tantivy under DATA_DIR/search/tantivy
    (default) or Elasticsearch at ELASTICSEARCH_URL."""
    from medcode_common.settings import SearchBackend as Kind

    if settings.SEARCH_BACKEND == Kind.ELASTICSEARCH:
        from .elastic import ElasticBackend

        return ElasticBackend(settings.ELASTICSEARCH_URL)
    from .embedded import EmbeddedBackend

    return EmbeddedBackend(settings.DATA_DIR / "search" / "tantivy")


def memo_usage() -> dict[str, dict]:
    """How full each of the search code's memo tables (functools.lru_cache) is: they live
    as long as the process, whichever backend answers."""
    from . import analysis, execute, planner

    memos = {
        "search_analysed_words": analysis.analyse_word,
        "search_analysed_terms": analysis.analyse_term,
        "search_typo_distances": execute._within,
        "search_cut_titles": execute._cut,
        "search_cursors": planner.encode_cursor,
        "search_typed_words": planner._typed_word,
        "search_exact_words": planner._exact_word,
    }
    usage = {}
    for name, memo in memos.items():
        info = memo.cache_info()
        usage[name] = {"entries": info.currsize, "bound": info.maxsize}
    return usage
