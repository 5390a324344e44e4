"""The official documents of the mirror, split by their own sections and searchable.

- ICD-10-CM Official Guidelines for Coding and Reporting (`guidelines/icd10cm_official_
  guidelines_FY<year>.txt`): sections as the guidelines number them (Section I.C.1.d.1),
  down to the `1)` level; deeper text stays with its parent.
- Medicare NCCI Policy Manual (`guidelines/ncci_policy_manual_medicare_<year>.txt`):
  chapters and their lettered sections (Chapter I, Section E). The manual quotes CPT
  descriptors in parentheses after code numbers; those are cut out (AMA licence), the
  code numbers stay.
- Coverage: the Medicare Coverage Database index of LCDs and billing articles (titles and
  links; no code lists), when present.

Every passage goes into one in-memory tantivy index (the embedded engine, as the codes
service uses it); a passage is cited by document, edition and section number.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import tantivy

log = logging.getLogger(__name__)

ICD10CM_GUIDELINES = "ICD-10-CM Official Guidelines for Coding and Reporting"
NCCI_MANUAL = "Medicare NCCI Policy Manual"
MCD_INDEX = "Medicare Coverage Database (LCD and Article index)"
MAX_PASSAGE_CHARS = 1800


@dataclass(frozen=True)
class Passage:
    id: str
    document: str  # ICD10CM_GUIDELINES, NCCI_MANUAL, MCD_INDEX
    edition: str  # "FY2026", "2025 (revised 2/28/2025)"
    file: str  # file name in the mirror
    section: str  # "Section I.C.1.d.1", "Chapter I, Section E"
    heading: str  # the section titles, outermost first
    text: str
    url: str | None = None

    @property
    def source(self) -> str:
        return f"{self.document}, {self.edition} ({self.file})"


# ---- ICD-10-CM Official Guidelines -------------------------------------------------------------
_ROMAN = ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii", "xiii", "xiv", "xv"]
_PAGE_NOISE = re.compile(r"^(ICD-10-CM Official Guidelines for Coding and Reporting|FY \d{4}|Page \d+ of \d+)\s*$")
# (level, pattern) from outermost; the group is the label, the rest the title.
_GUIDELINE_LEVELS = [
    (0, re.compile(r"^(?:Section|SECTION) ([IVX]+)\.\s*(.*)$")),
    (1, re.compile(r"^([A-Z])\.\s+(.+)$")),
    (2, re.compile(r"^(\d{1,2})\.\s+(.+)$")),
    (3, re.compile(r"^([a-z])\.\s+(.+)$")),
    (4, re.compile(r"^(\d{1,2})\)\s+(.+)$")),
    (5, re.compile(r"^\(([a-z])\)\s+(.+)$")),
    (6, re.compile(r"^\(([ivx]+)\)\s+(.+)$")),
]
_SPLIT_DEPTH = 4  # passages end at the `1)` level
_FIRST = {0: "I", 1: "A", 2: "1", 3: "a", 4: "1", 5: "a", 6: "i"}


def _next_label(level: int, label: str) -> str:
    if level == 0:
        romans = [r.upper() for r in _ROMAN]
        return romans[romans.index(label) + 1] if label in romans[:-1] else ""
    if level == 6:
        return _ROMAN[_ROMAN.index(label) + 1] if label in _ROMAN[:-1] else ""
    if label.isdigit():
        return str(int(label) + 1)
    return chr(ord(label) + 1)


def _guideline_heading(line: str, path: list[tuple[str, str]]) -> tuple[int, str, str] | None:
    """(level, label, title) when `line` opens the next section at some level: the next
    sibling of a section on the current path, or the first child of the deepest one.
    Anything else that merely looks like a heading (a list in running text) is text."""
    candidates = []
    for level, pattern in _GUIDELINE_LEVELS:
        match = pattern.match(line)
        if not match:
            continue
        label, title = match.group(1), match.group(2).strip()
        if re.search(r"\.{5,}\s*\d+$", title):  # a table-of-contents line
            return None
        depth = len(path)
        if level < depth and _next_label(level, path[level][0]) == label:
            candidates.append((level, label, title))
        elif level == depth and _FIRST[level] == label:
            candidates.append((level, label, title))
    # "(i)" can be the letter after (h) or the first roman numeral: the deeper reading
    # wins only when it is a first child.
    return max(candidates, key=lambda c: c[0]) if candidates else None


def parse_icd10cm_guidelines(path: Path) -> list[Passage]:
    edition_match = re.search(r"FY(\d{4})", path.name)
    edition = f"FY{edition_match.group(1)}" if edition_match else "unknown edition"
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    # The body starts at the second "Section I." (the first is the table of contents).
    starts = [
        i
        for i, line in enumerate(lines)
        if re.match(r"^Section I\. Conventions", line) and not re.search(r"\.{5,}", line)
    ]
    body = lines[starts[0] :] if starts else lines
    passages: list[Passage] = []
    path_stack: list[tuple[str, str]] = []
    buffer: list[str] = []
    current: list[tuple[str, str]] | None = None

    def flush() -> None:
        if current is None:
            return
        text = _join(buffer)
        if len(text) < 20:
            return
        labels = [label for label, _ in current]
        section = "Section " + ".".join(labels)
        heading = " > ".join(title for _, title in current)
        passages.extend(
            _section_passages(
                f"icd10cm-{'.'.join(labels)}",
                text,
                document=ICD10CM_GUIDELINES,
                edition=edition,
                file=path.name,
                section=section,
                heading=heading,
            )
        )

    for raw in body:
        line = raw.strip()
        if not line or _PAGE_NOISE.match(line):
            continue
        if line.startswith("Appendix I"):
            break  # the POA appendix is a reporting manual of its own
        heading = _guideline_heading(line, path_stack)
        if heading is None:
            buffer.append(line)
            continue
        level, label, title = heading
        path_stack = path_stack[:level] + [(label, title)]
        if level <= _SPLIT_DEPTH:
            flush()
            buffer = [title]
            current = list(path_stack)
        else:
            buffer.append(line)
    flush()
    return passages


# ---- NCCI Policy Manual ------------------------------------------------------------------------
_CHAPTER = re.compile(r"^CHAPTER ([IVX]+)\s*$")
_NCCI_SECTION = re.compile(r"^([A-Z])\.\s+(\S.{1,140})$")
_REVISION = re.compile(r"Revision Date \(Medicare\):\s*(\d{1,2}/\d{1,2}/\d{4})(?:\s+[A-Za-z]*-?[IVX]*-?\d*)?")
# A CPT code number followed by its (AMA) descriptor in parentheses, possibly nested once.
_CPT_DESCRIPTOR = re.compile(r"(\b[0-9]{4}[0-9FTU]\b)\s*\((?:[^()]|\([^()]*\))*\)")


def strip_cpt_descriptors(text: str) -> str:
    """`CPT code 46606 (Anoscopy; with biopsy, ...)` -> `CPT code 46606`."""
    previous = None
    while previous != text:
        previous, text = text, _CPT_DESCRIPTOR.sub(r"\1", text)
    return text


def parse_ncci_manual(path: Path) -> list[Passage]:
    year = re.search(r"(\d{4})", path.name)
    raw = path.read_text(encoding="utf-8", errors="replace")
    revision = _REVISION.search(raw)
    edition = (
        f"{year.group(1) if year else ''} (revision date {revision.group(1)})".strip()
        if revision
        else (year.group(1) if year else "unknown edition")
    )
    passages: list[Passage] = []
    chapter: str | None = None
    chapter_title = ""
    section: tuple[str, str] | None = None
    buffer: list[str] = []
    expect_title = False

    def flush() -> None:
        if chapter is None or not buffer:
            return
        text = strip_cpt_descriptors(_join(buffer))
        if len(text) < 40:
            return
        label = f"Chapter {chapter}" + (f", Section {section[0]}" if section else "")
        heading = chapter_title + (f" > {section[1]}" if section else "")
        passages.extend(
            _section_passages(
                f"ncci-{chapter}-{section[0] if section else '0'}",
                text,
                document=NCCI_MANUAL,
                edition=edition,
                file=path.name,
                section=label,
                heading=strip_cpt_descriptors(heading),
            )
        )

    for raw_line in raw.splitlines():
        line = _REVISION.sub("", raw_line).strip()
        if (
            not line
            or re.search(r"\.{5,}", line)
            or re.match(r"^(February|January|March) \d+, \d{4}$|^Page \d+$", line)
        ):
            continue
        match = _CHAPTER.match(line)
        if match:
            flush()
            chapter, section, buffer, chapter_title, expect_title = match.group(1), None, [], "", True
            continue
        if chapter is None:
            continue
        if expect_title:
            # "Chapter I" then its title line(s), before the first paragraph.
            if re.match(rf"^Chapter {chapter}\b", line):
                rest = line[len(f"Chapter {chapter}") :].strip()
                chapter_title = rest or chapter_title
                continue
            if not chapter_title and len(line) < 120:
                chapter_title = line
                continue
            expect_title = False
        heading = _NCCI_SECTION.match(line)
        if heading and not line.endswith((".", ",", ";")) and _is_next_section(section, heading.group(1)):
            flush()
            section, buffer = (heading.group(1), heading.group(2).strip()), [heading.group(2).strip()]
            continue
        buffer.append(line)
    flush()
    return passages


def _is_next_section(current: tuple[str, str] | None, letter: str) -> bool:
    if current is None:
        return letter in "ABC"  # chapter I's text starts at B (its A is the chapter's opening)
    return ord(letter) == ord(current[0]) + 1


# ---- coverage ------------------------------------------------------------------------------------
def parse_mcd_index(path: Path) -> list[Passage]:
    passages = []
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        for row in csv.DictReader(handle):
            display_id = (row.get("document_display_id") or "").strip()
            title = (row.get("title") or "").strip()
            if not display_id or not title:
                continue
            contractor = " ".join((row.get("contractor_name_type") or "").split())
            kind = (row.get("document_type") or "").strip()
            text = (
                f"{kind} {display_id}: {title}. Contractor: {contractor}. "
                f"Effective {row.get('effective_date') or 'n/a'}, version {row.get('document_version') or 'n/a'}."
            )
            passages.append(
                Passage(
                    id=f"mcd-{display_id}-{row.get('document_version')}",
                    document=MCD_INDEX,
                    edition="snapshot of " + path.stem.rsplit("_", 1)[-1],
                    file=path.name,
                    section=f"{kind} {display_id}",
                    heading=title,
                    text=text,
                    url=(row.get("url") or "").strip() or None,
                )
            )
    return passages


# ---- shared -----------------------------------------------------------------------------------------
def _join(lines: list[str]) -> str:
    text = " ".join(lines)
    text = re.sub(r"(\w)- (\w)", r"\1-\2", text)
    return re.sub(r"\s+", " ", text).strip()


def _section_passages(id_prefix: str, text: str, **fields: str) -> list[Passage]:
    """A section's passages: its text in chunks (_chunks), numbered after `id_prefix`."""
    return [Passage(id=f"{id_prefix}-{n}", text=chunk, **fields) for n, chunk in enumerate(_chunks(text))]


def _chunks(text: str) -> list[str]:
    """Long sections in passages of up to MAX_PASSAGE_CHARS, cut at sentence ends."""
    if len(text) <= MAX_PASSAGE_CHARS:
        return [text]
    sentences = re.split(r"(?<=[.;:])\s+(?=[A-Z(•])", text)
    chunks, current = [], ""
    for sentence in sentences:
        if current and len(current) + len(sentence) > MAX_PASSAGE_CHARS:
            chunks.append(current.strip())
            current = ""
        current += " " + sentence
    if current.strip():
        chunks.append(current.strip())
    return chunks


def best_excerpt(passage: Passage, query: str, limit: int = 320) -> str:
    """The sentences of the passage that share most words with the query."""
    words = {w for w in re.findall(r"[a-z0-9]+", query.lower()) if len(w) > 2}
    sentences = re.split(r"(?<=[.;])\s+", passage.text)
    if not words:
        best = 0
    else:
        scores = [sum(1 for w in words if w[:5] in s.lower()) for s in sentences]
        best = max(range(len(sentences)), key=lambda i: scores[i])
    excerpt = sentences[best]
    i = best + 1
    while len(excerpt) < limit // 2 and i < len(sentences):
        excerpt += " " + sentences[i]
        i += 1
    return excerpt if len(excerpt) <= limit else excerpt[:limit].rsplit(" ", 1)[0] + " …"


class Library:
    """The passages of every document found, in one in-memory tantivy index."""

    def __init__(self, passages: list[Passage]):
        self.passages = {p.id: p for p in passages}
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw")
        builder.add_text_field("document", stored=True, tokenizer_name="raw")
        builder.add_text_field("heading", tokenizer_name="en_stem")
        builder.add_text_field("text", tokenizer_name="en_stem")
        self._schema = builder.build()
        self._index = tantivy.Index(self._schema)
        writer = self._index.writer(heap_size=50_000_000, num_threads=1)
        for p in passages:
            writer.add_document(tantivy.Document(id=p.id, document=p.document, heading=p.heading, text=p.text))
        writer.commit()
        writer.wait_merging_threads()
        self._index.reload()

    @classmethod
    def from_mirror(cls, mirror: Path | None) -> Library:
        passages: list[Passage] = []
        if mirror is not None:
            folder = Path(mirror) / "guidelines"
            for path in sorted(folder.glob("icd10cm_official_guidelines_FY*.txt"))[-1:]:
                passages += parse_icd10cm_guidelines(path)
            for path in sorted(folder.glob("ncci_policy_manual_*.txt"))[-1:]:
                passages += parse_ncci_manual(path)
            for path in sorted((Path(mirror) / "coverage").glob("mcd_lcd_article_index_*.csv"))[-1:]:
                passages += parse_mcd_index(path)
        log.info("documents indexed: %d passages", len(passages))
        return cls(passages)

    def documents(self) -> set[str]:
        return {p.document for p in self.passages.values()}

    def search(self, query: str, documents: tuple[str, ...] | None = None, limit: int = 3) -> list[Passage]:
        words = [w for w in re.findall(r"[A-Za-z0-9]+", query) if len(w) > 1]
        if not words or not self.passages:
            return []
        text_query = self._index.parse_query(" ".join(words), ["heading", "text"], field_boosts={"heading": 3.0})
        if documents:
            doc_filter = tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, tantivy.Query.term_query(self._schema, "document", d)) for d in documents]
            )
            text_query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, text_query), (tantivy.Occur.Must, doc_filter)]
            )
        searcher = self._index.searcher()
        hits = searcher.search(text_query, limit * 3).hits
        found, seen = [], set()
        for _score, address in hits:
            passage = self.passages[searcher.doc(address)["id"][0]]
            if passage.section in seen:
                continue
            seen.add(passage.section)
            found.append(passage)
            if len(found) == limit:
                break
        return found
