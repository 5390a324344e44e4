"""Reading official release files: the one error every reader raises, and what readers share.

Every reader of a code-set release (codes.code_sets) or a coding-rule file (codes.rules)
streams its records and raises `MalformedRelease`, naming the file and line, when the bytes
do not have the layout it reads; the store then keeps the edition loaded before.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO, Literal
from xml.parsers import expat

# Wraps the raw byte stream of a file, e.g. with a tqdm byte counter for the progress bar.
Wrap = Callable[[BinaryIO], BinaryIO] | None

PROCEDURE_CODE = re.compile(r"^[0-9A-Z]{5}$")  # HCPCS Level II or CPT
MODIFIER_CODE = re.compile(r"^[0-9A-Z]{2}$")

# One event of iter_xml: (kind, tag, attributes, text, line); a plain tuple, as a load reads
# millions of them.
XmlEvent = tuple[Literal["start", "end"], str, Mapping[str, str], str, int]
_NO_ATTRIBUTES: Mapping[str, str] = MappingProxyType({})


class MalformedRelease(ValueError):
    """A release file does not have the official layout; the message names file and line."""

    def __init__(self, path: Path | str, line: int | None, problem: str):
        where = f"{path}, line {line}" if line else f"{path}"
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.line = line
        self.problem = problem

    def __reduce__(self):  # picklable, so a load's writer process can hand it over
        return type(self), (self.path, self.line, self.problem)


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """The edition fingerprint: the same bytes are the same edition."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def iter_xml(path: Path, chunk: int = 1 << 16) -> Iterator[XmlEvent]:
    """Stream an XML file as ("start", tag, attributes, "", line) and ("end", tag, {}, text,
    line) events, `text` being the element's own stripped character data.

    Built on expat directly (not ElementTree.iterparse) because expat reports the line of
    every element, so errors about the content can name the line too. Memory stays
    bounded: events are handed out a chunk at a time."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    events: list[XmlEvent] = []
    texts: list[list[str]] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        texts.append([])
        events.append(("start", tag, attrs, "", parser.CurrentLineNumber))

    def end(tag: str) -> None:
        text = "".join(texts.pop()).strip()
        events.append(("end", tag, _NO_ATTRIBUTES, text, parser.CurrentLineNumber))

    def chars(data: str) -> None:
        if texts:
            texts[-1].append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk)
            try:
                parser.Parse(block, not block)
            except expat.ExpatError as exc:
                raise MalformedRelease(
                    path, exc.lineno, f"not well-formed XML ({expat.ErrorString(exc.code)})"
                ) from None
            yield from events
            events.clear()
            if not block:
                return


def read_xml_version(path: Path, root_tag: str, first_content_tag: str) -> int:
    """The fiscal year in a CDC/CMS tabular XML's <version>, which comes before the first
    `first_content_tag` (<chapter>, <pcsTable>); the root must be `root_tag`."""
    first = True
    for kind, tag, _attrs, text, line in iter_xml(path):
        if kind == "start":
            if first and tag != root_tag:
                raise MalformedRelease(path, line, f"root element is <{tag}>, expected <{root_tag}>")
            first = False
            if tag == first_content_tag:
                break
        elif tag == "version":
            if not (text.isdigit() and len(text) == 4):
                raise MalformedRelease(path, line, f"<version> is {text!r}, expected a year")
            return int(text)
    raise MalformedRelease(path, None, f"no <version> element before the first <{first_content_tag}>")


def open_text(path: Path, encoding: str = "utf-8", wrap: Wrap = None, newline: str | None = "") -> io.TextIOWrapper:
    """Open a (possibly .gz) text file; `wrap` sees the raw bytes (for byte-based progress)."""
    try:
        raw: BinaryIO = open(path, "rb")
    except OSError as exc:
        raise MalformedRelease(path, None, f"cannot open: {exc.strerror}") from None
    if wrap is not None:
        raw = wrap(raw)
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.GzipFile(fileobj=raw, mode="rb"), encoding=encoding, newline=newline)
    return io.TextIOWrapper(raw, encoding=encoding, newline=newline)


def yyyymmdd(value: str, path: Path, line: int, column: str) -> date:
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise MalformedRelease(path, line, f"{column} {value!r} is not a YYYYMMDD date") from None


def iso_date(value: str, path: Path, line: int, column: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise MalformedRelease(path, line, f"{column} {value!r} is not a YYYY-MM-DD date") from None


def procedure_code(value: str, path: Path, line: int, column: str) -> str:
    code = value.strip().upper()
    if not PROCEDURE_CODE.match(code):
        raise MalformedRelease(path, line, f"{column} {value!r} is not a 5-character HCPCS/CPT code")
    return code


# What reading a truncated or corrupt (gzip) text stream raises.
UNREADABLE = (EOFError, gzip.BadGzipFile, OSError, UnicodeDecodeError)


def unreadable(path: Path, exc: BaseException) -> MalformedRelease:
    return MalformedRelease(path, None, f"unreadable ({type(exc).__name__}: {exc})")


def gz_guard(path: Path, reader: Iterator):
    """Turn a truncated or corrupt gzip stream into MalformedRelease."""
    try:
        yield from reader
    except UNREADABLE as exc:
        raise unreadable(path, exc) from None


def require_columns(path: Path, rows, needed: list[str]) -> None:
    """A csv.DictReader's header must have the columns `needed`."""
    if rows.fieldnames is None or not set(needed) <= set(rows.fieldnames):
        raise MalformedRelease(path, 1, f"expected columns {needed}, got {rows.fieldnames!r}")
