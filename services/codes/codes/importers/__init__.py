"""Importers of the official code-set releases, one module per system.

Each module has `OFFICIAL_URL`, `find_release(mirror) -> Path | None` and
`read_edition(path) -> (EditionMeta, Iterator[CodeRecord])`. The records iterator streams:
it reads the file as it is consumed, so a malformed file raises `MalformedRelease` part way
through a load (the store then keeps the edition that was loaded before).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from xml.parsers import expat


class MalformedRelease(Exception):
    """A release file does not have the official layout; the message names file and line."""

    def __init__(self, path: Path | str, line: int | None, problem: str):
        where = f"{path}, line {line}" if line else f"{path}"
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.line = line
        self.problem = problem


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """The edition fingerprint: the same bytes are the same edition."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def iter_xml(path: Path, chunk: int = 1 << 16) -> Iterator[tuple[str, str, object, int]]:
    """Stream an XML file as ("start", tag, attributes, line) and ("end", tag, text, line)
    events, `text` being the element's own stripped character data.

    Built on expat directly (not ElementTree.iterparse) because expat reports the line of
    every element, so errors about the content can name the line too. Memory stays
    bounded: events are handed out a chunk at a time."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    events: list[tuple[str, str, object, int]] = []
    texts: list[list[str]] = []

    def start(tag, attrs):
        texts.append([])
        events.append(("start", tag, attrs, parser.CurrentLineNumber))

    def end(tag):
        text = "".join(texts.pop()).strip()
        events.append(("end", tag, text, parser.CurrentLineNumber))

    def chars(data):
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
                raise MalformedRelease(path, exc.lineno, f"not well-formed XML ({expat.ErrorString(exc.code)})") from None
            yield from events
            events.clear()
            if not block:
                return


def read_xml_version(path: Path, root_tag: str, first_content_tag: str) -> int:
    """The fiscal year in a CDC/CMS tabular XML's <version>, which comes before the first
    `first_content_tag` (<chapter>, <pcsTable>); the root must be `root_tag`."""
    first = True
    for kind, tag, value, line in iter_xml(path):
        if kind == "start":
            if first and tag != root_tag:
                raise MalformedRelease(path, line, f"root element is <{tag}>, expected <{root_tag}>")
            first = False
            if tag == first_content_tag:
                break
        elif tag == "version":
            if not (value.isdigit() and len(value) == 4):
                raise MalformedRelease(path, line, f"<version> is {value!r}, expected a year")
            return int(value)
    raise MalformedRelease(path, None, f"no <version> element before the first <{first_content_tag}>")
