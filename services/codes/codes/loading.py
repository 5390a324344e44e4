"""Loading the available official releases into the store, then the search index.

Used by `python -m codes.cli load` (and so by `make run`). Idempotent: a release whose
fingerprint (sha256 of the file) is the current edition's is skipped, and the search index
is rebuilt only for systems whose indexed edition differs from the store's.

With `rules=True` the coding-rule files (NCCI PTP, MUE, GEMs, the ICD-10-CM index, a
licensed CPT file) are loaded after the code sets, then the CPT code set they define
(codes.cpt). The ICD-10-CM index's lay terms become search text of the codes they point
to: the ICD-10-CM index entry is rebuilt when the lay-term edition changes too.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from types import ModuleType
from typing import Iterable, Iterator, Protocol

from medcode_common.db import make_engine
from medcode_contracts.codes import CodeSystem

from . import cpt
from .domain import CodeRecord
from .importers import hcpcs, icd10cm, icd10pcs
from .rules.storage import RulesStore
from .storage import CodeStore, LoadReport

log = logging.getLogger(__name__)

# Loaded in this order; each module: OFFICIAL_URL, find_release(mirror), read_edition(path).
IMPORTERS: dict[CodeSystem, ModuleType] = {
    CodeSystem.ICD10CM: icd10cm,
    CodeSystem.ICD10PCS: icd10pcs,
    CodeSystem.HCPCS: hcpcs,
}


class IndexBackend(Protocol):
    """The part of codes.search.SearchBackend the loader uses."""

    def indexed_editions(self) -> dict[str, str]: ...

    def replace_system(self, system: str, edition_id: str, records: Iterable[CodeRecord]) -> None: ...


def load_available(settings, systems: Iterable[CodeSystem | str] | None = None,
                   show_progress: bool = True, backend=None, rules: bool = False,
                   say=None) -> list[LoadReport]:
    """Load every release found (mirror = settings.DATA_MIRROR; ICD-10-CM from the
    simple-icd-10-cm package when the mirror lacks it) that is not loaded yet, then (with
    `rules`) the coding rules and the CPT code set, then bring the search index in line with
    the store. `backend` defaults to `codes.search.make_backend(settings)` (opened and
    closed here); `say` prints the rule loads' lines (default: print)."""
    wanted = [CodeSystem(s) for s in systems] if systems else list(IMPORTERS)
    unknown = [s.value for s in wanted if s not in IMPORTERS]
    if unknown:
        raise ValueError(f"no importer for {', '.join(unknown)}; known: {', '.join(s.value for s in IMPORTERS)}")
    engine = make_engine(settings.database_url("codes"))
    try:
        store = CodeStore(engine)
        store.migrate()
        reports = [load_system(store, system, settings.DATA_MIRROR, show_progress) for system in wanted]
        rules_store = RulesStore(engine)
        if rules:
            from .rules.loading import load_rules

            load_rules(settings, show_progress=show_progress, store=rules_store, say=say)
            reports.append(load_cpt(store, rules_store, show_progress))
        own_backend = backend is None
        if own_backend:
            from .search import make_backend

            backend = make_backend(settings)
        try:
            sync_search_index(store, backend, show_progress=show_progress, rules=rules_store)
        finally:
            if own_backend:
                backend.close()
        return reports
    finally:
        engine.dispose()


def load_system(store: CodeStore, system: CodeSystem, mirror: Path | None, show_progress: bool = True) -> LoadReport:
    importer = IMPORTERS[system]
    path = importer.find_release(mirror)
    if path is None:
        return LoadReport(system=system.value, status="not found")
    meta, records = importer.read_edition(path)
    if store.has_edition(system, meta.fingerprint):
        current = next((e for e in store.current_editions() if e.system == system), None)
        return LoadReport(system=system.value, status="already loaded", edition=meta.name,
                          source=meta.source, codes=(current.counts.get("codes", 0) if current else 0))
    with _progress(f"{system.value:9} {path.name}", show_progress) as bar:
        return store.replace_edition(meta, records, progress=bar.update)


def load_cpt(store: CodeStore, rules: RulesStore, show_progress: bool = True) -> LoadReport:
    """(Re)build the CPT code set from the current rule editions (codes.cpt)."""
    found = cpt.read_edition(rules)
    if found is None:
        return LoadReport(system=CodeSystem.CPT.value, status="not found")
    meta, records = found
    if store.has_edition(CodeSystem.CPT, meta.fingerprint):
        current = next((e for e in store.current_editions() if e.system == CodeSystem.CPT), None)
        return LoadReport(system=CodeSystem.CPT.value, status="already loaded", edition=meta.name,
                          source=meta.source, codes=(current.counts.get("codes", 0) if current else 0))
    with _progress(f"{CodeSystem.CPT.value:9} from rule files", show_progress) as bar:
        return store.replace_edition(meta, records, progress=bar.update)


def sync_search_index(store: CodeStore, backend: IndexBackend, show_progress: bool = False,
                      rules: RulesStore | None = None) -> list[str]:
    """Re-index every system whose indexed edition is not the store's current one;
    returns the systems re-indexed. With `rules`, ICD-10-CM codes get the lay terms of
    the current ICD-10-CM index edition, and its fingerprint becomes part of the indexed
    edition id (so a new index edition re-indexes ICD-10-CM)."""
    indexed = backend.indexed_editions()
    lay_edition = rules.current_edition("INDEX") if rules is not None else None
    done = []
    for system, edition_id in sorted(store.current_edition_ids().items()):
        with_lay_terms = system == CodeSystem.ICD10CM.value and lay_edition is not None
        if with_lay_terms:
            edition_id = f"{edition_id}+lay-terms-{lay_edition.fingerprint[:16]}"
        if indexed.get(system) == edition_id:
            continue
        started = time.monotonic()
        records = store.iter_records(system)
        if with_lay_terms:
            records = with_index_lay_terms(records, rules)
        with _progress(f"index {system}", show_progress) as bar:
            backend.replace_system(system, edition_id, _counting(records, bar))
        log.info("indexed %s edition %s in %.1f s", system, edition_id, time.monotonic() - started)
        done.append(system)
    return done


def with_index_lay_terms(records: Iterable[CodeRecord], rules: RulesStore) -> Iterator[CodeRecord]:
    """`records` with the ICD-10-CM index terms that point to each code added to its lay
    terms (≈ 60 k terms: held in memory while indexing)."""
    return with_lay_terms(records, rules.iter_lay_terms())


def with_lay_terms(records: Iterable[CodeRecord], terms: Iterable[tuple[str, str]]) -> Iterator[CodeRecord]:
    """`records` with the (code key, term) pairs of `terms` added to their lay terms (once
    per lower-cased term). The search index makes them text and index-term keys."""
    by_key: dict[str, list[str]] = {}
    for key, term in terms:
        by_key.setdefault(key, []).append(term)
    for record in records:
        extra = by_key.get(record.key)
        if extra:
            seen = {t.lower() for t in record.lay_terms}
            added = []
            for term in extra:
                if term.lower() not in seen:
                    seen.add(term.lower())
                    added.append(term)
            record.lay_terms = list(record.lay_terms) + added
        yield record


def _counting(records: Iterable[CodeRecord], bar, every: int = 1000):
    pending = 0
    for record in records:
        yield record
        pending += 1
        if pending == every:
            bar.update(pending)
            pending = 0
    bar.update(pending)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def _progress(description: str, show: bool):
    if not show:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(desc=description, unit=" codes", unit_scale=True, leave=True)
