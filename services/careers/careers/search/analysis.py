"""The text analyzer of job search, shared by indexing and querying in both engines.

Words are runs of letters and digits, lower-cased and ASCII-folded. Ranked fields hold
English Snowball stems (`coders` -> `coder`); the location holds plain words, so a place
matches as written ("San Antonio" does not find "Antonio Bay" by stem games). tantivy's
analyzers do the work; Elasticsearch receives the same tokens joined by spaces into
whitespace-analysed fields.
"""

from __future__ import annotations

from medcode_common.text_analysis import english_analyzer

# Dropped from queries (unless nothing else is left): "coder in Texas" = "coder Texas".
STOPWORDS = frozenset("a an and are as at be by for from in into is it its of on or the to with".split())

_STEM = english_analyzer(stem=True)
_PLAIN = english_analyzer(stem=False)


def stems(text: str) -> list[str]:
    return _STEM.analyze(text) if text else []


def plain_words(text: str) -> list[str]:
    return _PLAIN.analyze(text) if text else []


def query_stems(text: str) -> list[str]:
    """The distinct stems a query must find, stop words dropped (kept when only they are left)."""
    words = plain_words(text)
    kept = [w for w in words if w not in STOPWORDS] or words
    return list(dict.fromkeys(s for w in kept for s in stems(w)))
