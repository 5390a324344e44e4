"""Lay terms of the ICD-10-CM indexes: the Alphabetic Index (the mirror's flattened CSV), the
External Cause Index and the Table of Drugs and Chemicals (CDC's XML). They become search
text of the codes they point to (codes.loading), stored as the rule-store edition of kind
INDEX. Each reader streams LayTerm records."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..domain import LayTerm
from ..release_files import MalformedRelease, Wrap, gz_guard, open_text, require_columns
from ..search.analysis import analyse_word

_ICD10CM_CODE = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?$")


# Subterms that read after the main term ("Attack with ...", "Infarct due to ...").
_TRAILING_SUBTERM = re.compile(
    r"^(with|without|due|in|of|following|complicating|by|from|after|during|to|on|at|for|and|"
    r"or|as|affecting|involving|not|NEC|NOS|see|associated|resulting|causing|than|into|"
    r"under|over|within|between|other|specified|unspecified)\b",
    re.IGNORECASE,
)


# Deeper subterms that continue the phrase without a comma ("... with hemorrhage").
_JOINING_SUBTERM = re.compile(r"^(with|without|due to|in)\b")


def _drop_variant(term: str) -> str:
    """ "Attack, attacks" -> "Attack"; "Infarct, infarction" -> "Infarct"; "Infection,
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
    return gz_guard(path, _read_index_lay_terms(path, wrap))


class _IndexRow:
    __slots__ = ("line", "level", "term", "see", "see_also", "modifiers", "code")

    def __init__(self, line, level, term, see, see_also, modifiers, code):
        self.line, self.level, self.term = line, level, term
        self.see, self.see_also, self.modifiers, self.code = see, see_also, modifiers, code


def _csv_index_rows(path: Path, wrap: Wrap) -> Iterator[_IndexRow]:
    with open_text(path, wrap=wrap) as text:
        rows = csv.DictReader(text)
        require_columns(path, rows, ["Code", "Level", "See", "Term"])
        for row in rows:
            try:
                level = int(row["Level"])
            except (TypeError, ValueError):
                raise MalformedRelease(path, rows.line_num, f"Level {row['Level']!r} is not a number") from None
            term = (row["Term"] or "").strip()
            if not term:
                # A few flattened rows hold only a non-essential modifier ("(somatoform)").
                term = (row.get("NonEssModif") or "").strip().strip("()").strip()
            yield _IndexRow(
                rows.line_num,
                level,
                term,
                (row["See"] or "").strip(),
                (row.get("SeeAlso") or "").strip(),
                row.get("NonEssModif") or "",
                row["Code"] or "",
            )


def _read_index_lay_terms(path: Path, wrap: Wrap) -> Iterator[LayTerm]:
    yield from _lay_terms_of_rows(path, _csv_index_rows(path, wrap), set())


def _lay_terms_of_rows(
    path: Path, rows: Iterable[_IndexRow], seen: set[tuple[str, str]], source: str = ""
) -> Iterator[LayTerm]:
    """Lay terms of one index's rows (in index order); `source` prefixes each path
    ("External Cause Index: ")."""
    root = _Node()
    see_rows: list[tuple[list[str], str, str]] = []  # (path, target, "see"/"see also"): ≈ 8 k
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
                lay_phrase(names[:-1] + [f"{names[-1]} {modifier}"]) for modifier in _modifiers(row.modifiers)
            ]
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
            continue  # "Hip - see condition": look the condition up, not a term named so
        where = f"{source}{index_path(names)} - {how} {target}"
        code = _see_code(root, names, target)
        if code:
            phrase = lay_phrase(names)
            if (code, phrase.lower()) not in seen:
                seen.add((code, phrase.lower()))
                yield LayTerm(code=code, term=phrase, path=where)
        if len(names) != 1:
            continue
        see_node = _resolve_see(root, target, need_code=False)
        if see_node is None:
            continue
        for labels, sub in _descendants(see_node, INHERITED_LEVELS):
            phrase = lay_phrase(names + labels)
            if (sub.code, phrase.lower()) not in seen:
                seen.add((sub.code, phrase.lower()))
                yield LayTerm(code=sub.code, term=phrase, path=f"{where}, {index_path(labels)}")


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
        with wrap(open(path, "rb")) if wrap else open(path, "rb") as handle:
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
        yield _IndexRow(
            0,
            level,
            term,
            (element.findtext("see") or "").strip(),
            (element.findtext("seeAlso") or "").strip(),
            modifiers,
            code.strip(),
        )
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
            continue  # the same node under its variant-free key
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
    return {
        analysed[1] for word in re.findall(r"[A-Za-z0-9]+", text) if len(word) > 2 and (analysed := analyse_word(word))
    }


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
