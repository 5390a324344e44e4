"""A licensed AMA CPT data file (CPT_FILE): CPT codes and modifiers with their descriptors,
loaded as the coding-rule edition of kind CPT (codes.code_sets.cpt makes the CPT code set
of it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..domain import ModifierRow, ProcedureCodeRow, procedure_system
from ..release_files import MODIFIER_CODE, PROCEDURE_CODE, MalformedRelease, Wrap, gz_guard, open_text


def read_cpt_file(path: Path, wrap: Wrap = None) -> Iterator[ProcedureCodeRow | ModifierRow]:
    """A licensed AMA CPT data file: one `code<TAB>descriptor` per line (AMA's LONGULT /
    MEDU / SHORTU text files). 5-character codes are CPT codes, 2-character ones CPT
    modifiers. Lines that are blank or start with a non-code (headers, notices) are
    skipped. UTF-8, falling back to Windows-1252 as older AMA files use."""
    try:
        with open(path, "rb") as probe:
            probe.read().decode("utf-8")
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        encoding = "cp1252"
    except OSError as exc:
        raise MalformedRelease(path, None, f"cannot open: {exc.strerror}") from None
    return gz_guard(path, _read_cpt_file(path, wrap, encoding))


def _read_cpt_file(path: Path, wrap: Wrap, encoding: str) -> Iterator[ProcedureCodeRow | ModifierRow]:
    found = 0
    with open_text(path, encoding=encoding, wrap=wrap, newline=None) as text:
        for line, raw in enumerate(text, start=1):
            raw = raw.rstrip("\r\n")
            if not raw.strip():
                continue
            code, sep, descriptor = raw.partition("\t")
            if not sep:
                code, _, descriptor = raw.partition(" ")
            code = code.strip().upper()
            descriptor = " ".join(descriptor.split())
            if PROCEDURE_CODE.match(code) and procedure_system(code) == "CPT":
                if not descriptor:
                    raise MalformedRelease(path, line, f"CPT code {code} has no descriptor")
                found += 1
                yield ProcedureCodeRow(code=code, system="CPT", title=descriptor, last_day=None)
            elif MODIFIER_CODE.match(code) and code.isdigit() and descriptor:
                found += 1
                yield ModifierRow(code=code, title=descriptor, description=None, system="CPT", terminated_on=None)
            elif found:
                raise MalformedRelease(path, line, f"expected 'code<TAB>descriptor', got {raw[:60]!r}")
    if not found:
        raise MalformedRelease(path, None, "no CPT code lines ('code<TAB>descriptor')")
