"""What a coder typed -> an engine-neutral search plan, and the rules both engines share.

A plan has up to three *segments*, listed one after the other, each without the hits of the
segments before it (so totals, facets and pages add up exactly: no duplicates, no gaps):
1. `code`: when the query looks like a code (`k220`, `K22.0`, `K22`, `j9035`, `0DB64ZZ`), the
   codes whose normalised key starts with it, ordered by key - so the exact code comes first
   and `K22` lists K22, K22.0, K22.1... before anything else;
2. `term`: the codes that have an ICD-10-CM Alphabetic Index term equal to the query (a lay
   term, compared by `analysis.term_key`: the same stems, stop words dropped, in any order;
   a synonym counts: "HTN" is "hypertension"). The index is where coders start, and its main
   terms point to the default code ("Hypertension" -> I10, "Failure, heart" -> I50.9), so
   these come before any BM25 ranking. Ordered billable first, then shorter code, then code
   order (`term_rank`), since a term can point to a category and to its default code;
3. `text`: the word search. Every *clause* must match (implicit
   AND); a clause is one typed word, or an abbreviation whose alternatives are the
   abbreviation itself or all words of one of its expansions (synonyms.tsv). A typed word
   matches by its stem in the title (ranked by BM25) or in the inclusion/lay terms (lower
   weight), for the last word as a prefix (as you type), and - when the word is not in the
   index's dictionary at all, i.e. a typo - by the words within its edit distance (a constant
   score, below what an exact match earns). Known words skip typo matching: a correctly spelt
   `ileum` must not also find `ilium`, and the fuzzy automaton is the costliest part of a query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice, product

from medcode_common.cursors import decode_position, encode_position
from medcode_contracts.codes import CodeSystem, SearchRequest
from medcode_contracts.errors import BadRequest

from ..domain import code_key
from . import synonyms as synonym_data
from .analysis import STOPWORDS, analyse_word, plain_words, term_key

# Relative weights, shared by both engines.
TITLE_WEIGHT = 1.0  # BM25 of the stem in the official title
TERMS_WEIGHT = 0.4  # BM25 of the stem in inclusion terms and lay terms
# Constant for a typo match (exact matches also get it, so rank higher). A word that may
# have 2 typos earns it in two halves, within 1 edit and within 2 edits, so the closer of
# two misspelt matches ranks first ("achalazia": "achalasia" before "chalasia").
FUZZY_SCORE = 0.2
PREFIX_SCORE = 0.3  # constant for an as-you-type prefix match of the last word

MAX_QUERY_CHARS = 256
MAX_WORDS = 16
MAX_OFFSET = 10_000  # deeper paging than this is a crawl, not a search
MIN_FUZZY_LEN = 5  # words of 5+ letters tolerate 1 typo...
MIN_FUZZY2_LEN = 8  # ...and of 8+ letters 2 typos
MIN_PREFIX_LEN = 2  # a one-letter prefix matches half the dictionary
MAX_TERM_KEYS = 16  # index-term keys of one query (combinations of synonym alternatives)
TERM_SCORE = 1.0  # reported score of an index-term hit (the segment is ordered by rank)

# Bumped whenever what the engines index changes (fields, analysis, rank): both engines store
# it with the index and rebuild an index made for another version (see embedded.py, elastic.py).
SCHEMA_VERSION = 5

_CODE_LIKE = re.compile(r"^[A-Za-z0-9]+(?:\.[A-Za-z0-9]*)?$")

CODE = "code"
TERM = "term"
TEXT = "text"


@dataclass(frozen=True, slots=True)
class Word:
    plain: str  # lower-cased, folded, unstemmed (typo and prefix matching)
    stem: str  # what the ranked fields hold
    fuzzy: int = 0  # max edit distance for typos; 0 = exact only
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Clause:
    alternatives: tuple[tuple[Word, ...], ...]  # any one alternative, all of its words
    required: bool = True


@dataclass(frozen=True, slots=True)
class Plan:
    query: str
    code_prefix: str | None  # normalised code key the query may be a prefix of
    clauses: tuple[Clause, ...]
    systems: tuple[str, ...] | None  # None: every system
    billable_only: bool
    offset: int
    size: int
    term_keys: tuple[str, ...] = ()  # analysis.term_key forms the query may be an index term of

    @property
    def segments(self) -> tuple[str, ...]:
        return ((CODE,) if self.code_prefix else ()) + ((TERM,) if self.term_keys else ()) + (TEXT,)

    def words(self) -> list[Word]:
        return [w for clause in self.clauses for alt in clause.alternatives for w in alt]


def fuzzy_distance(plain: str) -> int:
    if not plain.isalpha():
        return 0
    if len(plain) >= MIN_FUZZY2_LEN:
        return 2
    return 1 if len(plain) >= MIN_FUZZY_LEN else 0


# A query's words recur from one search to the next (as-you-type, paging, common words), and
# a Word is immutable: one object serves them all. ~200 bytes an entry.
@lru_cache(maxsize=4096)
def _typed_word(plain: str, last: bool) -> Word:
    stem = analyse_word(plain)
    return Word(
        plain=plain,
        stem=stem[1] if stem else plain,
        fuzzy=fuzzy_distance(plain),
        prefix=last and len(plain) >= MIN_PREFIX_LEN,
    )


@lru_cache(maxsize=4096)
def _exact_word(plain: str) -> Word:
    stem = analyse_word(plain)
    return Word(plain=plain, stem=stem[1] if stem else plain)


def code_prefix_of(query: str) -> str | None:
    """The code key a query may be (a prefix of): one token, letters and digits with an
    optional dot, 2-7 characters once normalised, at least one digit."""
    if not _CODE_LIKE.match(query):
        return None
    key = code_key(query)
    if 2 <= len(key) <= 7 and any(ch.isdigit() for ch in key):
        return key
    return None


def _clauses(query: str) -> tuple[Clause, ...]:
    words = plain_words(query)[:MAX_WORDS]
    meaningful = [w for w in words if w not in STOPWORDS]
    # All stopwords ("to be or not"): search them rather than nothing.
    kept_stopwords = not meaningful
    synonyms = synonym_data.load()
    clauses: list[Clause] = []
    i = 0
    while i < len(words):
        found = synonyms.match(words, i)
        if found:
            length, expansions = found
            term = tuple(_exact_word(w) for w in words[i : i + length] if w not in STOPWORDS) or tuple(
                _exact_word(w) for w in words[i : i + length]
            )
            alternatives = [term]
            for expansion in expansions:
                words_of = tuple(_exact_word(w) for w in expansion)
                # Two spellings with the same stems would score the same match twice.
                if {w.stem for w in words_of} not in [{w.stem for w in a} for a in alternatives]:
                    alternatives.append(words_of)
            clauses.append(Clause(tuple(alternatives)))
            i += length
            continue
        word = words[i]
        last = i == len(words) - 1
        i += 1
        if word in STOPWORDS and not kept_stopwords:
            continue
        # A lone letter is a half-typed word or an initial ("vitamin d"): it ranks, never filters.
        optional = len(word) == 1 and word.isalpha()
        clauses.append(Clause(((_typed_word(word, last),),), required=not optional))
    if clauses and not any(c.required for c in clauses):
        clauses = [Clause(c.alternatives, required=True) for c in clauses]
    return tuple(clauses)


def term_keys_of(clauses: tuple[Clause, ...]) -> tuple[str, ...]:
    """The index-term keys a query stands for: one per combination of its clauses'
    alternatives ("CHF" -> "chf", "congest failur heart", "failur heart"), at most
    MAX_TERM_KEYS, in that order without repeats."""
    keys: list[str] = []
    for combination in islice(product(*(c.alternatives for c in clauses)), MAX_TERM_KEYS):
        key = term_key(w.stem for alternative in combination for w in alternative)
        if key and key not in keys:
            keys.append(key)
    return tuple(keys)


_ORDER_DIGITS = 8
_ORDER_VALUE = {ch: i for i, ch in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", start=1)}
_ORDER_WEIGHTS = tuple(37 ** (_ORDER_DIGITS - 1 - i) for i in range(_ORDER_DIGITS))


def code_order(key: str) -> int:
    """A number that sorts like the code key (up to 8 characters; base 37, 0 = end of key),
    so K22 < K220 < K2210 < K23. Below 37**8 < 2**42."""
    return sum(_ORDER_VALUE.get(ch, 0) * weight for ch, weight in zip(key, _ORDER_WEIGHTS, strict=False))


def term_rank(key: str, billable: bool) -> int:
    """Order of the index-term segment, as one number both engines sort by ascending:
    billable codes first, then shorter codes (the default code of a term is usually the
    less specific one), then code order. Below 2**48 (fits ES `long`, tantivy u64)."""
    return ((0 if billable else 1) << 47) | (min(len(key), 15) << 43) | code_order(key)


_CURSOR_TAG = "v1"


@lru_cache(maxsize=1024)  # positions of the first pages, over and over
def encode_cursor(position: int) -> str:
    """Opaque cursor of the hit at 1-based `position` in the result list."""
    return encode_position(_CURSOR_TAG, position)


def decode_cursor(cursor: str) -> int:
    """The offset to continue after `cursor`; BadRequest when it is not one of ours."""
    position = decode_position(_CURSOR_TAG, cursor)
    if position is None:
        raise BadRequest(
            f"after: {cursor[:40]!r} is not a valid cursor; pass the cursor (or endCursor) "
            "of a previous searchCodes result"
        )
    if position > MAX_OFFSET:
        raise BadRequest(f"after: the cursor is past the deepest page ({MAX_OFFSET} hits); refine the query instead")
    return position


# Given typed words that may be typos, says which ones the index knows (by stem, plain form,
# or - for the prefix word - as the start of an indexed word). Each engine answers from its
# own term dictionary; both hold the same terms, so they decide alike.
Lexicon = Callable[[Sequence[Word]], list[bool]]


def _drop_known_typos(clauses: tuple[Clause, ...], lexicon: Lexicon) -> tuple[Clause, ...]:
    candidates = [w for c in clauses for alt in c.alternatives for w in alt if w.fuzzy]
    if not candidates:
        return clauses
    # Keyed by identity: the candidates are the clauses' own objects, and a Word's hash is a
    # Python call.
    exact = {
        id(w): Word(plain=w.plain, stem=w.stem, prefix=w.prefix)
        for w, is_known in zip(candidates, lexicon(candidates))
        if is_known
    }
    if not exact:
        return clauses
    return tuple(
        Clause(tuple(tuple(exact.get(id(w), w) for w in alt) for alt in c.alternatives), c.required) for c in clauses
    )


# Given index-term keys (term_key forms), says which ones some code in the index has. A key
# none has cannot match: the plan leaves it out, and with no key left there is no term
# segment to run (an engine that can tell cheaply spares a search and its counts).
TermLexicon = Callable[[Sequence[str]], list[bool]]


def make_plan(request: SearchRequest, lexicon: Lexicon | None = None, term_lexicon: TermLexicon | None = None) -> Plan:
    """The plan of a request; `lexicon` (the engine's dictionary) turns typo matching off
    for the words it knows, `term_lexicon` drops the index-term keys no code has.
    BadRequest when the request cannot be searched."""
    query = (request.query or "").strip()
    if not query:
        raise BadRequest("query must not be empty: type a code (e.g. K22.0) or words")
    if len(query) > MAX_QUERY_CHARS:
        raise BadRequest(f"query is too long ({len(query)} characters; at most {MAX_QUERY_CHARS})")
    prefix = code_prefix_of(query)
    clauses = _clauses(query)
    if lexicon is not None:
        clauses = _drop_known_typos(clauses, lexicon)
    if not clauses and not prefix:
        raise BadRequest("query must contain letters or digits")
    offset = decode_cursor(request.after) if request.after else 0
    systems = None
    if request.systems:
        systems = tuple(sorted({CodeSystem(s).value for s in request.systems}))
    term_keys = term_keys_of(clauses)
    if term_lexicon is not None and term_keys:
        term_keys = tuple(key for key, known in zip(term_keys, term_lexicon(term_keys), strict=True) if known)
    return Plan(
        query=query,
        code_prefix=prefix,
        clauses=clauses,
        systems=systems,
        billable_only=request.billable_only,
        offset=offset,
        size=request.first,
        term_keys=term_keys,
    )
