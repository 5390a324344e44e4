"""Loading the available official releases into the store, then the search index.

Used by `python -m codes.cli load` (and so by `make run`). Idempotent: a release whose
fingerprint (sha256 of the file) is the current edition's is skipped, and the search index
is rebuilt only for systems whose indexed edition differs from the store's.

With `rules=True` the coding-rule files (NCCI PTP, MUE, GEMs, the ICD-10-CM index, a
licensed CPT file) are loaded after the code sets, then the CPT code set they define
(codes.code_sets.cpt). The ICD-10-CM index's lay terms become search text of the codes they point
to: the ICD-10-CM index entry is rebuilt when the lay-term edition changes too.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Protocol

from medcode_common.db import make_engine
from medcode_contracts.codes import CodeSystem

from .code_sets import cpt, hcpcs, icd10cm, icd10pcs
from .domain import CodeRecord, EditionMeta
from .forked import ForkedCall
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


def load_available(
    settings,
    systems: Iterable[CodeSystem | str] | None = None,
    show_progress: bool = True,
    backend=None,
    rules: bool = False,
    say=None,
    parallel: bool = False,
) -> list[LoadReport]:
    """Load every release found (mirror = settings.DATA_MIRROR; ICD-10-CM from the
    simple-icd-10-cm package when the mirror lacks it) that is not loaded yet, then (with
    `rules`) the coding rules and the CPT code set, then bring the search index in line with
    the store. `backend` defaults to `codes.search.make_backend(settings)` (opened and
    closed here); `say` prints the rule loads' lines (default: print).

    With `parallel` (and `rules`), a forked process does every database write (code sets,
    then rules, then CPT: SQLite has one writer) while this one builds the search index of
    each system as soon as its code set and index lay terms are in (it only reads the
    database); a last sync catches what changed meanwhile. On a SQLite file, a first load of
    the PTP tables is written meanwhile by a third process (rules.rule_files.PtpStaging)."""
    wanted = [CodeSystem(s) for s in systems] if systems else list(IMPORTERS)
    unknown = [s.value for s in wanted if s not in IMPORTERS]
    if unknown:
        raise ValueError(f"no importer for {', '.join(unknown)}; known: {', '.join(s.value for s in IMPORTERS)}")
    engine = make_engine(settings.database_url("codes"))
    try:
        store = CodeStore(engine)
        store.migrate()
        rules_store = RulesStore(engine)
        writer = None
        if rules and parallel:
            engine.dispose()  # the forked writer opens its own connections
            writer = _Writer(settings, wanted, show_progress, say)
            reports: list[LoadReport] = []
        else:
            reports = _write_all(store, rules_store, settings, wanted, show_progress, rules, say)
        own_backend = backend is None
        if own_backend:
            from .search import make_backend

            backend = make_backend(settings)
        try:
            definitions = read_pcs_definitions(settings.DATA_MIRROR)
            if writer is not None:
                _index_while_writing(writer, store, rules_store, backend, show_progress, definitions)
                reports = writer.result()
            sync_search_index(
                store, backend, show_progress=show_progress, rules=rules_store, pcs_definitions=definitions
            )
        finally:
            if own_backend:
                backend.close()
            if writer is not None:
                writer.stop()
        return reports
    finally:
        engine.dispose()


def _write_all(
    store: CodeStore,
    rules_store: RulesStore,
    settings,
    wanted: list[CodeSystem],
    show_progress: bool,
    rules: bool,
    say,
    stage: bool = False,
) -> list[LoadReport]:
    """Every database write of a load, in dependency order: code sets, rules, CPT. With
    `stage`, a first load of the PTP tables runs meanwhile in a process of its own
    (rules.rule_files.PtpStaging)."""
    from .rules.rule_files import PtpStaging, load_rules

    staged = PtpStaging.start(settings, rules_store, show_progress) if rules and stage else None
    try:
        reports = [load_system(store, system, settings.DATA_MIRROR, show_progress) for system in wanted]
        if rules:
            load_rules(settings, show_progress=show_progress, store=rules_store, say=say, staged=staged)
            reports.append(load_cpt(store, rules_store, show_progress))
    finally:
        if staged is not None:
            staged.close()
    return reports


# The rule edition whose lay terms a system's search documents carry (see sync_search_index).
_LAY_TERMS_OF = {CodeSystem.ICD10CM.value: "INDEX", CodeSystem.ICD10PCS.value: "PCS_INDEX"}


def _index_while_writing(
    writer: _Writer, store: CodeStore, rules: RulesStore, backend: IndexBackend, show_progress: bool, definitions
) -> None:
    """Index each code set once its edition and lay terms are current, while `writer` runs."""
    pending = [s.value for s in writer.wanted]
    while pending and writer.running():
        current = store.current_edition_ids()
        ready = [
            s
            for s in pending
            if s in current and (s not in _LAY_TERMS_OF or rules.current_edition(_LAY_TERMS_OF[s]) is not None)
        ]
        if not ready:
            time.sleep(0.5)
            continue
        sync_search_index(
            store, backend, show_progress=show_progress, rules=rules, pcs_definitions=definitions, only=ready
        )
        pending = [s for s in pending if s not in ready]


class _Writer(ForkedCall):
    """`_write_all` in a forked process; `result()` waits for it and returns its reports
    (or raises its error, MalformedRelease included)."""

    def __init__(self, settings, wanted: list[CodeSystem], show_progress: bool, say):
        self.wanted = wanted
        super().__init__(_write_in_child, settings, wanted, show_progress, say, name="codes-load-writer")


def _write_in_child(settings, wanted: list[CodeSystem], show_progress: bool, say) -> list[LoadReport]:
    import signal

    # _Writer.stop's SIGTERM unwinds the stack, so the PTP staging process is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    engine = make_engine(settings.database_url("codes"))
    try:
        return _write_all(CodeStore(engine), RulesStore(engine), settings, wanted, show_progress, True, say, stage=True)
    finally:
        engine.dispose()


def read_pcs_definitions(mirror: Path | None):
    """The mirror's ICD-10-PCS Definitions (icd10pcs_definitions_<year>.xml), or None."""
    from .code_sets import icd10pcs_definitions

    path = icd10pcs_definitions.find_release(mirror)
    return icd10pcs_definitions.read_definitions(path) if path else None


def load_system(store: CodeStore, system: CodeSystem, mirror: Path | None, show_progress: bool = True) -> LoadReport:
    importer = IMPORTERS[system]
    path = importer.find_release(mirror)
    if path is None:
        return LoadReport(system=system.value, status="not found")
    meta, records = importer.read_edition(path)
    return _store_edition(store, system, meta, records, path.name, show_progress)


def load_cpt(store: CodeStore, rules: RulesStore, show_progress: bool = True) -> LoadReport:
    """(Re)build the CPT code set from the current rule editions (codes.code_sets.cpt)."""
    found = cpt.read_edition(rules)
    if found is None:
        return LoadReport(system=CodeSystem.CPT.value, status="not found")
    meta, records = found
    return _store_edition(store, CodeSystem.CPT, meta, records, "from rule files", show_progress)


def _store_edition(
    store: CodeStore,
    system: CodeSystem,
    meta: EditionMeta,
    records: Iterable[CodeRecord],
    read_from: str,
    show_progress: bool,
) -> LoadReport:
    """Replace the system's edition, unless the store already holds this very edition (same fingerprint)."""
    if store.has_edition(system, meta.fingerprint):
        current = next((e for e in store.current_editions() if e.system == system), None)
        return LoadReport(
            system=system.value,
            status="already loaded",
            edition=meta.name,
            source=meta.source,
            codes=(current.counts.get("codes", 0) if current else 0),
        )
    with _progress(f"{system.value:9} {read_from}", show_progress) as bar:
        return store.replace_edition(meta, records, progress=bar.update)


def sync_search_index(
    store: CodeStore,
    backend: IndexBackend,
    show_progress: bool = False,
    rules: RulesStore | None = None,
    pcs_definitions=None,
    only: Iterable[str] | None = None,
) -> list[str]:
    """Re-index every system whose indexed edition is not the store's current one;
    returns the systems re-indexed. With `rules`, ICD-10-CM codes get the lay terms of
    the current ICD-10-CM index edition and ICD-10-PCS codes those of the PCS Index, and
    that edition's fingerprint becomes part of the indexed edition id (so a new index
    edition re-indexes the system). With `pcs_definitions` (code_sets.icd10pcs_definitions),
    ICD-10-PCS codes also get their body part key, device key and root operation example
    words, and the definitions' fingerprint joins the edition id too. `only` limits the
    sync to those systems."""
    indexed = backend.indexed_editions()
    lay_editions = {
        CodeSystem.ICD10CM.value: ("INDEX", "lay-terms"),
        CodeSystem.ICD10PCS.value: ("PCS_INDEX", "pcs-index"),
    }
    done = []
    for system, edition_id in sorted(store.current_edition_ids().items()):
        if only is not None and system not in only:
            continue
        kind, tag = lay_editions.get(system, ("", ""))
        lay_edition = rules.current_edition(kind) if rules is not None and kind else None
        lay_rules = rules if lay_edition is not None else None  # None: no lay-terms edition for this system
        if lay_edition is not None:
            edition_id = f"{edition_id}+{tag}-{lay_edition.fingerprint[:16]}"
        definitions = pcs_definitions if system == CodeSystem.ICD10PCS.value else None
        if definitions is not None:
            edition_id = f"{edition_id}+definitions-{definitions.fingerprint[:16]}"
        if indexed.get(system) == edition_id:
            continue
        started = time.monotonic()
        records = store.iter_records(system)
        if lay_rules is not None and kind == "INDEX":
            records = with_index_lay_terms(records, lay_rules)
        elif lay_rules is not None or definitions is not None:
            records = with_pcs_terms(
                records, lay_rules.iter_lay_terms(kind) if lay_rules is not None else (), definitions
            )
        with _progress(f"index {system}", show_progress) as bar:
            backend.replace_system(system, edition_id, _counting(records, bar))
        log.info("indexed %s edition %s in %.1f s", system, edition_id, time.monotonic() - started)
        done.append(system)
    return done


def with_index_lay_terms(records: Iterable[CodeRecord], rules: RulesStore) -> Iterator[CodeRecord]:
    """`records` with the ICD-10-CM index terms that point to each code added to its lay
    terms (≈ 190 k terms: held in memory while indexing)."""
    return with_lay_terms(records, rules.iter_lay_terms())


def with_lay_terms(records: Iterable[CodeRecord], terms: Iterable[tuple]) -> Iterator[CodeRecord]:
    """`records` with the (code key, term[, index path]) of `terms` added to their lay
    terms (once per lower-cased term). The search index makes them text and index-term
    keys, and keeps the paths to explain a hit."""
    by_key: dict[str, list[tuple[str, str | None]]] = {}
    for key, term, *path in terms:
        by_key.setdefault(key, []).append((term, path[0] if path else None))
    for record in records:
        _add_lay_terms(record, by_key.get(record.key))
        yield record


def _add_lay_terms(record: CodeRecord, extra: list[tuple[str, str | None]] | None) -> None:
    if not extra:
        return
    seen = {t.lower() for t in record.lay_terms}
    added = []
    for term, path in extra:
        if term.lower() not in seen:
            seen.add(term.lower())
            added.append(term)
            if path:
                record.lay_paths[term] = path
    record.lay_terms = list(record.lay_terms) + added


def with_pcs_terms(records: Iterable[CodeRecord], terms: Iterable[tuple], definitions=None) -> Iterator[CodeRecord]:
    """`records` (ICD-10-PCS) with the PCS Index terms of every code or code prefix they
    start with ("0UT9" -> every resection of the uterus). A 3-character prefix fixes only
    the body system and root operation ("Tonsillectomy - see Resection, Mouth and Throat
    0CT"): its term goes only to the codes whose body part the term names
    (procedure_words.body_part_named), so tonsillectomy reaches the tonsils, not the lips.
    With `definitions`, each code also gets the PCS Definitions' words for its axes
    (procedure_words.definition_terms)."""
    from .search.procedure_words import body_part_named, definition_terms

    by_prefix: dict[str, list[tuple[str, str | None]]] = {}
    for key, term, *index_path in terms:
        by_prefix.setdefault(key, []).append((term, index_path[0] if index_path else None))
    for record in records:
        key = record.key
        if len(key) == 7:
            found: list[tuple[str, str | None]] = []
            body_part = (record.extra.get("axes") or {}).get("Body Part", "")
            for n in range(3, 8):
                for term, path in by_prefix.get(key[:n], ()):
                    if n > 3 or body_part_named(term, body_part):
                        found.append((term, path))
            if definitions is not None:
                found.extend(definition_terms(definitions, record.extra.get("axes") or {}, key[0]))
            _add_lay_terms(record, found)
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


def with_mirror_terms(system: CodeSystem | str, records: Iterable[CodeRecord], mirror: Path) -> Iterable[CodeRecord]:
    """`records` with the index terms the loader would give them, read straight from the
    mirror's files (no database): for benchmarks and the search test suites."""
    from .code_sets import icd10cm_index, icd10pcs_index

    system = CodeSystem(system)
    folder = Path(mirror) / "icd10cm_index"
    if system == CodeSystem.ICD10CM:

        def terms():
            for pattern, read in (
                ("ICD10CM_*_Index_flattened.csv*", icd10cm_index.read_index_lay_terms),
                ("icd-10-cm-eindex-*.xml", icd10cm_index.read_external_cause_lay_terms),
                ("icd-10-cm-drug-*.xml", icd10cm_index.read_drug_table_lay_terms),
            ):
                found = sorted(folder.glob(pattern))
                if found:
                    for term in read(found[-1]):
                        yield term.code.replace(".", ""), term.term, term.path

        return with_lay_terms(records, terms())
    if system == CodeSystem.ICD10PCS:
        database = icd10pcs_index.find_pcs_index()
        tables = icd10pcs.find_release(mirror)
        index_terms = (
            ((t.code, t.term, t.path) for t in icd10pcs_index.read_pcs_index(database, tables))
            if database and tables
            else ()
        )
        return with_pcs_terms(records, index_terms, read_pcs_definitions(mirror))
    return records
