"""Nameko dependency providers of the codes service: the edition store, the search index
and the relay of `edition_loaded` events. Each reads the platform settings in `setup()`
(never at import), so a container starts with whatever environment it is given."""
from __future__ import annotations

import threading

from nameko.extensions import DependencyProvider
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from medcode_common.db import make_engine
from medcode_common.nameko_outbox import OutboxRelay
from medcode_common.settings import load_settings, read_settings

from .page_cache import PageCache
from .storage import OUTBOX, CodeStore

# One engine per database URL and process, shared by the providers below.
_engines: dict[str, object] = {}
_engines_lock = threading.Lock()


def _engine(url: str):
    with _engines_lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


class CodeStoreProvider(DependencyProvider):
    """The edition store (migrated to the latest schema at start)."""

    store: CodeStore

    def setup(self):
        settings = load_settings()
        self.store = CodeStore(_engine(settings.database_url("codes")))
        self.store.migrate()

    def get_dependency(self, worker_ctx) -> CodeStore:
        return self.store

    def stop(self):
        self.store.engine.dispose()  # closes pooled connections; the engine reopens on use


class CodeSearchIndex(DependencyProvider):
    """The search backend chosen by SEARCH_BACKEND (embedded tantivy by default)."""

    def setup(self):
        from .search import make_backend

        self.backend = make_backend(load_settings())

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


class EditionEvents(OutboxRelay):
    """Calling it publishes the pending `edition_loaded` events of the store's outbox on
    `codes.events` (the loader writes them; the service's timer relays them)."""

    def __init__(self):
        super().__init__(get_engine=self._get_engine, outbox=OUTBOX)
        self._url: str | None = None

    def setup(self):
        self._url = load_settings().database_url("codes")
        super().setup()

    def _get_engine(self):
        return _engine(self._url)


class PageCacheSettings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore")

    CODES_PAGE_CACHE_SIZE: int = Field(default=20000, ge=1)  # code pages kept per codes process


class CodePageCache(DependencyProvider):
    """One PageCache per service process, shared by its workers."""

    def setup(self):
        self.cache = PageCache(maxsize=read_settings(PageCacheSettings, "codes configuration").CODES_PAGE_CACHE_SIZE)

    def get_dependency(self, worker_ctx) -> PageCache:
        return self.cache


class PcsDefinitionsProvider(DependencyProvider):
    """The ICD-10-PCS Definitions of the mirror, read once per container (None without one),
    for the code pages' descriptions."""

    def setup(self):
        from .description import load_definitions

        self.definitions = load_definitions(load_settings().DATA_MIRROR)

    def get_dependency(self, worker_ctx):
        return self.definitions
