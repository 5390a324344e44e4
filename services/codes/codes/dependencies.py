"""Nameko dependency providers of the codes service: the edition store, the search index
and the relay of `edition_loaded` events. Each reads the platform settings in `setup()`
(never at import), so a container starts with whatever environment it is given. The store,
the relay and the coding rules (rules.provider) share the process's engine of the codes
database (medcode_common.nameko_storage), like every service's."""

from __future__ import annotations

from nameko.extensions import DependencyProvider

from medcode_common.nameko_storage import EventRelay, Storage, make_engines_with

from .config import load_codes_settings
from .page_cache import PageCache
from .storage import OUTBOX, SCHEMA, CodeStore

# Each SQLite connection of the codes process keeps at most CODES_SQLITE_CACHE_KIB of pages:
# memory the process's own caches need more (set here, at import, for every provider alike).
make_engines_with(SCHEMA.database, lambda: {"sqlite_cache_kib": load_codes_settings().CODES_SQLITE_CACHE_KIB})


class CodeStoreProvider(Storage):
    """The edition store (migrated to the latest schema at start)."""

    schema = SCHEMA

    def build(self, engine) -> CodeStore:
        return CodeStore(engine)


class CodeSearchIndex(DependencyProvider):
    """The search backend chosen by SEARCH_BACKEND (embedded tantivy by default)."""

    def setup(self):
        from .search import make_backend

        self.backend = make_backend(load_codes_settings())

    def get_dependency(self, worker_ctx):
        return self.backend

    def check_ready(self) -> None:
        """Readiness (medcode_common.health): Elasticsearch answers (the embedded index is
        a local file, opened at setup)."""
        client = getattr(self.backend, "client", None)
        if client is not None:
            client.info()

    def stop(self):
        self.backend.close()

    def kill(self):
        self.backend.close()


class EditionEvents(EventRelay):
    """Calling it publishes the pending `edition_loaded` events of the store's outbox on
    `codes.events` (the loader writes them; the service's timer relays them)."""

    def __init__(self):
        super().__init__(SCHEMA.database, OUTBOX)


class CodePageCache(DependencyProvider):
    """One PageCache per service process, shared by its workers."""

    def setup(self):
        self.cache = PageCache(maxsize=load_codes_settings().CODES_PAGE_CACHE_SIZE)

    def get_dependency(self, worker_ctx) -> PageCache:
        return self.cache


class PcsDefinitionsProvider(DependencyProvider):
    """The ICD-10-PCS Definitions of the mirror, read once per container (None without one),
    for the code pages' descriptions."""

    def setup(self):
        from .description import load_definitions

        self.definitions = load_definitions(load_codes_settings().DATA_MIRROR)

    def get_dependency(self, worker_ctx):
        return self.definitions
