"""Abbreviations and synonyms, read from the data files next to this module:
synonyms.tsv (abbreviations and shorthand coders type) and everyday.tsv (how patients and
surgeons say it: every row names the source of its equivalence in a third column)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from .analysis import STOPWORDS, plain_words

SYNONYMS_FILE = Path(__file__).with_name("synonyms.tsv")
EVERYDAY_FILE = Path(__file__).with_name("everyday.tsv")


class SynonymFileError(ValueError):
    """synonyms.tsv has a line the service cannot use (the message names file and line)."""


@dataclass(frozen=True)
class Synonyms:
    # term (tuple of plain words) -> expansions (each a tuple of plain words, stopwords out)
    entries: dict[tuple[str, ...], tuple[tuple[str, ...], ...]]
    longest: int

    @cached_property
    def _first_words(self) -> frozenset[str]:
        return frozenset(term[0] for term in self.entries)

    def match(self, words: list[str], start: int) -> tuple[int, tuple[tuple[str, ...], ...]] | None:
        """The longest term starting at words[start]: (number of words, expansions)."""
        if words[start] not in self._first_words:  # most words start no term
            return None
        for length in range(min(self.longest, len(words) - start), 0, -1):
            expansions = self.entries.get(tuple(words[start : start + length]))
            if expansions:
                return length, expansions
        return None


def parse(text: str, source: str = "synonyms.tsv", needs_source: bool = False) -> Synonyms:
    """`term<TAB>expansion | expansion[<TAB>source of the equivalence]` per line; with
    `needs_source` the third column is required."""
    entries: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        term, sep, rest = line.partition("\t")
        rest, _, note = rest.partition("\t")
        if needs_source and not note.strip():
            raise SynonymFileError(f"{source} line {number}: {term.strip()!r} has no source note (third column)")
        term_words = tuple(plain_words(term))
        expansions = tuple(
            words
            for words in (tuple(w for w in plain_words(part) if w not in STOPWORDS) for part in rest.split("|"))
            if words
        )
        if not sep or not term_words or not expansions:
            raise SynonymFileError(f"{source} line {number}: expected 'term<TAB>expansion | expansion', got {line!r}")
        if term_words in entries:
            raise SynonymFileError(f"{source} line {number}: {term.strip()!r} is listed twice")
        entries[term_words] = expansions
    return Synonyms(entries, max((len(t) for t in entries), default=0))


def merge(*parts: Synonyms) -> Synonyms:
    """One table of several: a term listed in more than one gets all their expansions."""
    entries: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {}
    for part in parts:
        for term, expansions in part.entries.items():
            entries[term] = tuple(dict.fromkeys(entries.get(term, ()) + expansions))
    return Synonyms(entries, max((len(t) for t in entries), default=0))


@lru_cache(maxsize=1)
def load() -> Synonyms:
    return merge(
        parse(SYNONYMS_FILE.read_text(encoding="utf-8"), str(SYNONYMS_FILE)),
        parse(EVERYDAY_FILE.read_text(encoding="utf-8"), str(EVERYDAY_FILE), needs_source=True),
    )
