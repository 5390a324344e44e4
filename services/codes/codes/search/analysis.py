"""The one text analyzer of code search, shared by indexing and querying in both engines.

Words are runs of letters and digits; they are lower-cased and ASCII-folded (`Ménière` ->
`meniere`). Two forms are kept:
- the *stem* (English Snowball stemmer: `fractures` -> `fractur`), which ranks with BM25;
- the *plain* word (no stemming), which prefix (as-you-type) and typo matching use, since a
  half-typed word is often longer than its stem (`infarcti` vs stem `infarct`).

tantivy's analyzers do the work, so the embedded index (which registers the same analyzers
as its tokenizers) and Elasticsearch (which receives the tokens pre-analysed, joined by
spaces, into whitespace-analysed fields) index exactly the same terms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

import tantivy

from medcode_common.text_analysis import english_analyzer

STEM_TOKENIZER = "medcode_stem"
PLAIN_TOKENIZER = "medcode_plain"


# Words that carry no meaning in a code search: a query drops them (unless it has nothing
# else), so `fractures of femur` also finds titles written without "of".
STOPWORDS = frozenset("a an and are as at be by for from in into is it its of on or the to".split())

# A word as tantivy's simple tokenizer sees it: a run of Unicode letters/digits.
WORD = re.compile(r"[^\W_]+")


def stem_analyzer() -> tantivy.TextAnalyzer:
    """A fresh analyzer producing stems (tantivy needs its own instance to register)."""
    return english_analyzer(stem=True)


def plain_analyzer() -> tantivy.TextAnalyzer:
    return english_analyzer(stem=False)


_STEM = stem_analyzer()
_PLAIN = plain_analyzer()


def stems(text: str) -> list[str]:
    """Stemmed tokens of a text, in order (what the ranked fields hold)."""
    return _STEM.analyze(text)


def plain_words(text: str) -> list[str]:
    """Lower-cased, folded, unstemmed tokens of a text (what prefix/typo matching uses)."""
    return _PLAIN.analyze(text)


# 8 k words: titles hold ~30 k distinct words, but the common ones answer most lookups (the
# bench's searches cost the same CPU with 8 k as with 64 k), and at ~290 bytes an entry
# 64 k could take 18 MB of the codes process's 150 MB.
@lru_cache(maxsize=8192)
def analyse_word(word: str) -> tuple[str, str] | None:
    """(plain, stem) of one word, or None when the analyzer drops it (too long).
    Cached: titles repeat the same few thousand words, and highlighting runs per hit."""
    plain = _PLAIN.analyze(word)
    if len(plain) != 1:
        return None
    stem = _STEM.analyze(word)
    return plain[0], (stem[0] if stem else plain[0])


def term_key(stems_: Iterable[str]) -> str:
    """The key an alphabetic-index term and a query are compared by: their distinct stems,
    sorted, joined by one space. Word order is ignored on purpose: the index writes terms
    inverted ("pressure, blood, high"), coders type them straight ("high blood pressure")."""
    return " ".join(sorted(set(stems_)))


def index_term_key(text: str) -> str:
    """term_key of a whole lay term, stop words dropped as a query drops them (kept when the
    term has nothing else); "" when it has no words."""
    return analyse_term(text)[0]


@lru_cache(maxsize=65536)
def analyse_term(text: str) -> tuple[str, str]:
    """(index_term_key, its distinct stems in order joined by spaces) of a lay term. Cached:
    while indexing, the PCS keys' and definitions' terms recur on thousands of codes."""
    words = plain_words(text)
    kept = [w for w in words if w not in STOPWORDS] or words
    key = term_key(analysed[1] for analysed in map(analyse_word, kept) if analysed)
    return key, " ".join(dict.fromkeys(analysed[1] for analysed in map(analyse_word, words) if analysed))


def index_term_keys(terms: Iterable[str]) -> list[str]:
    """The distinct non-empty keys of a code's alphabetic-index (lay) terms, in order."""
    return list(dict.fromkeys(k for k in map(index_term_key, terms) if k))


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the words of `text`, as the tokenizer splits them."""
    return [match.span() for match in WORD.finditer(text)]


# At most this many index terms of a code are kept for explaining a hit (a few codes have
# hundreds; the first ones are the index's own entries, the rest mostly cross-references).
MAX_EXPLAINED_TERMS = 32


def explained_terms(lay_terms: Sequence[str], paths: dict[str, str], title: str = "") -> list[list[str]]:
    """[term, index path or "", its stems joined by spaces] of a code's lay terms, as the
    engines store them for the highlight (execute.highlight): the stems let a search pick
    the term that explains a hit without analysing every term of every hit. A term whose
    stems are all in `title` is left out: it can never explain more than the title does."""
    if not lay_terms:
        return []
    in_title = set(stems(title))
    out = []
    for term in lay_terms:
        term_stems = analyse_term(term)[1]
        if not in_title.issuperset(term_stems.split()):
            out.append([term, paths.get(term, ""), term_stems])
            if len(out) == MAX_EXPLAINED_TERMS:
                break
    return out


# Index terms of these sources rank (BM25 over the terms field) but are left out of the
# typo/prefix field: the PCS body part and device keys add tens of thousands of anatomical
# and product words to every code with that body part or device, and the typo automaton's
# cost grows with that field's dictionary.
RANKED_ONLY_SOURCES = ("ICD-10-PCS Body Part Key", "ICD-10-PCS Device Key", "ICD-10-PCS Definitions")


def typo_text(record) -> list[str]:
    """The texts of a code its typo-tolerant and as-you-type field holds: titles, inclusion
    terms and index terms except RANKED_ONLY_SOURCES'."""
    paths = record.lay_paths
    return (
        [record.title]
        + ([record.short_title] if record.short_title else [])
        + list(record.notes.get("inclusion_terms", []))
        + [t for t in record.lay_terms if not paths.get(t, "").startswith(RANKED_ONLY_SOURCES)]
    )
