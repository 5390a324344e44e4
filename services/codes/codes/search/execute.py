"""Running a plan on an engine: paging over the segments, totals, facets and highlights.

Engines implement two primitives (`Engine` below); everything a caller can observe besides
the BM25 scores themselves is computed here, so both engines give the same answers.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Protocol

from ..domain import code_key
from .analysis import WORD, analyse_word
from .planner import Plan, encode_cursor

# A hit as an engine returns it: score, the code (a CodeSummary in its JSON form: system,
# code, title, billable, in that order), and the code's index terms with the index
# path each comes from and their stems ((term, path or "", "stem stem"), ...), for the
# highlight to explain the match (analysis.explained_terms). An engine may hand over an
# iterable that reads them only when iterated: the highlight reads them only for hits whose
# title does not explain the match, and mostly stops at the first few.
Explain = Iterable[Sequence[str]]

Row = tuple[float, dict, Explain]

# The flat form of an Explain, for an engine to store in one text field: the terms' fields,
# three a term, joined by _FLAT_SEPARATOR (a control character no index term holds).
_FLAT_SEPARATOR = "\x1f"


def flat_explain(terms: Iterable[Sequence[str]]) -> str:
    return _FLAT_SEPARATOR.join(field.replace(_FLAT_SEPARATOR, " ") for term in terms for field in term)


class FlatExplain:
    """An Explain in its flat form, cut into terms as it is iterated: the highlight mostly
    stops at the first few, and its whole text tells at once whether any term can matter."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __iter__(self) -> Iterator[tuple[str, str, str]]:
        rest = self.text
        while rest:
            # one term off the front (a split is cheaper than three finds and slices)
            fields = rest.split(_FLAT_SEPARATOR, 3)
            if len(fields) < 3:  # not made by flat_explain
                raise ValueError(f"malformed flat explain: {rest[:80]!r}")
            yield fields[0], fields[1], fields[2]
            rest = fields[3] if len(fields) == 4 else ""


class Engine(Protocol):
    def system_counts(self, plan: Plan, segment: str) -> dict[str, int]:
        """Hits per system of one segment, with the billable filter but NOT the systems one."""

    def fetch(self, plan: Plan, segment: str, offset: int, limit: int) -> list[Row]:
        """One page of one segment with every filter and without the hits of the segments
        before it, best first (code segment: by key; term segment: by planner.term_rank)."""


def execute(plan: Plan, engine: Engine) -> dict:
    """The plan's SearchResult in its JSON form (what model_dump(mode="json") gives, keys in
    the same order), built as plain data: the values come from our own index, and validating
    them into the contract's models, then dumping those, took a ninth of a search's CPU."""
    first_page: list[Row] | None = None
    if plan.offset == 0 and plan.systems is None:
        # A first page is the segments' first hits, one after the other. When every segment
        # ran out before the page did, the page holds every hit: count them here instead of
        # running the queries a second time (typo queries are the costly ones, and narrow).
        rows: list[Row] = []
        complete = True
        for segment in plan.segments:
            need = plan.size - len(rows)
            if need <= 0:
                complete = False
                break
            found = engine.fetch(plan, segment, 0, need)
            rows.extend(found)
            complete = complete and len(found) < need
        if complete:
            counts: dict[str, int] = {}
            for _, node, _ in rows:
                counts[node["system"]] = counts.get(node["system"], 0) + 1
            return _result(plan, rows, len(rows), counts)
        first_page = rows  # full: only the totals are missing

    facets: dict[str, int] = {}
    totals: list[int] = []
    for segment in plan.segments:
        counts = engine.system_counts(plan, segment)
        for system, count in counts.items():
            facets[system] = facets.get(system, 0) + count
        totals.append(sum(n for s, n in counts.items() if plan.systems is None or s in plan.systems))

    if first_page is not None:
        return _result(plan, first_page, sum(totals), facets)
    rows = []
    skip = plan.offset
    for segment, total in zip(plan.segments, totals):
        need = plan.size - len(rows)
        if need <= 0:
            break
        if skip >= total:
            skip -= total
            continue
        rows.extend(engine.fetch(plan, segment, skip, need))
        skip = 0

    return _result(plan, rows, sum(totals), facets)


def _result(plan: Plan, rows: list[Row], total: int, facets: dict[str, int]) -> dict:
    marker = _Marker(plan)
    clauses = len(plan.clauses)
    hits = []
    for i, (score, node, explain) in enumerate(rows, start=1):
        text, matched = _marked(node["title"], marker)
        if explain and not (plan.code_prefix and code_key(node["code"]).startswith(plan.code_prefix)):
            # (a code the query names needs nothing explained)
            covered = _covered(marker, matched)
            if covered < clauses:
                text = _explained(plan, marker, text, matched, covered, explain)
        hits.append({"cursor": encode_cursor(plan.offset + i), "score": score, "highlight": text, "node": node})
    return {
        "total_count": total,
        "hits": hits,
        "has_next_page": plan.offset + len(hits) < total,
        "end_cursor": hits[-1]["cursor"] if hits else None,
        "facets": [
            {"system": s, "count": n} for s, n in sorted(facets.items(), key=lambda item: (-item[1], item[0])) if n
        ],
    }


# Few repeats from one search to the next (under 20% hits on the bench's queries); ~170 bytes
# an entry: 2 k of them, not 64 k (11 MB).
@lru_cache(maxsize=2048)
def _within(a: str, b: str, limit: int) -> bool:
    """Optimal-string-alignment distance(a, b) <= limit (transpositions cost 1, as the
    engines' fuzzy queries count them)."""
    if abs(len(a) - len(b)) > limit:
        return False
    prev2: list[int] | None = None
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = ca != cb
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if prev2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return False
        prev2, prev = prev, cur
    return prev[-1] <= limit


class _Marker:
    """Decides which title words a plan matched, the way the engines matched them."""

    def __init__(self, plan: Plan):
        # One pass over the words (this runs on every search).
        self.stems: set[str] = set()
        self.stem_of: dict[str, str] = {}
        prefix_stems: list[tuple[str, str]] = []
        fuzzy: list[tuple[str, int]] = []
        for w in plan.words():
            self.stems.add(w.stem)
            self.stem_of[w.plain] = w.stem
            if w.prefix:
                prefix_stems.append((w.plain, w.stem))
            if w.fuzzy:
                fuzzy.append((w.plain, w.fuzzy))
        self.prefix_stems = prefix_stems
        self.prefixes = tuple(plain for plain, _ in prefix_stems)
        self.fuzzy = fuzzy
        # Per clause, the stem sets of its alternatives (one of them, all words, is a match).
        self.clause_stems = [[frozenset(w.stem for w in alt) for alt in clause.alternatives] for clause in plan.clauses]
        # Every stem or typed prefix is a substring of the stems (joined by spaces) it matches.
        self.needles = tuple(self.stems) + self.prefixes
        # Word as written -> the stems it matches (None: none). A page's titles and terms
        # repeat the same words, so each is analysed and compared once per search.
        self.seen: dict[str, frozenset[str] | None] = {}

    def matches(self, plain: str, stem: str) -> set[str]:
        """The stems of the plan's words that this word matches (exactly, as the prefix
        being typed, or within the typo distance)."""
        found = {stem} & self.stems
        found.update(self.stem_of[p] for p in self.prefixes if plain.startswith(p))
        found.update(self.stem_of[typed] for typed, limit in self.fuzzy if _within(plain, typed, limit))
        return found

    def word(self, written: str) -> frozenset[str] | None:
        """matches() of a word as written in a text, or None when it matches nothing."""
        found = self.seen.get(written, _UNSEEN)
        if found is _UNSEEN:
            found = None
            analysed = analyse_word(written)
            if analysed is not None:
                plain, stem = analysed
                if (
                    stem in self.stems
                    or (self.prefixes and plain.startswith(self.prefixes))
                    or (self.fuzzy and any(_within(plain, typed, limit) for typed, limit in self.fuzzy))
                ):
                    found = frozenset(self.matches(plain, stem))
            self.seen[written] = found
        return found  # type: ignore[return-value]


_UNSEEN = object()


def _needs_escape(text: str) -> bool:
    """Whether html.escape would change `text` (five substring tests: cheaper than a regex scan)."""
    return "&" in text or "<" in text or ">" in text or '"' in text or "'" in text


# analysis.WORD as a split pattern: text between words at even positions, words at odd ones.
_WORDS_SPLIT = re.compile(f"({WORD.pattern})")


# ~780 bytes an entry: 1 k (0.8 MB) answer as often as 4 k did on the bench's queries.
@lru_cache(maxsize=1024)
def _cut(text: str) -> tuple[str, ...]:
    """`text` cut at its words (odd positions), the text between them HTML-escaped (even
    positions; words hold no character HTML escapes). Cached: the regex scan is the costliest
    part of a highlight, and the titles and index terms of common hits recur from search to
    search (as-you-type, paging, the same code reached by other words)."""
    parts = _WORDS_SPLIT.split(text)
    if _needs_escape(text):
        parts[::2] = map(html.escape, parts[::2])
    return tuple(parts)


def _marked(text: str, marker: _Marker) -> tuple[str, set[str]]:
    """`text` HTML-escaped with the matched words in <mark>, and the stems of the plan it
    matched."""
    parts = _cut(text)
    marked: list[str] | None = None  # a copy of parts, made at the first match
    matched: set[str] = set()
    seen = marker.seen
    for i in range(1, len(parts), 2):
        written = parts[i]
        found = seen.get(written, _UNSEEN)
        if found is _UNSEEN:
            found = marker.word(written)
        if isinstance(found, frozenset):  # None: matches nothing
            matched |= found
            if marked is None:
                marked = list(parts)
            marked[i] = f"<mark>{written}</mark>"
    return "".join(parts if marked is None else marked), matched


def _covered(marker: _Marker, matched: set[str]) -> int:
    """How many clauses of the plan the matched stems satisfy (one alternative, all words;
    the word being typed also as a prefix)."""
    for plain, stem in marker.prefix_stems:
        if stem not in matched and any(m.startswith(plain) for m in matched):
            matched = matched | {stem}
    count = 0
    for alternatives in marker.clause_stems:
        for alternative in alternatives:
            if alternative <= matched:
                count += 1
                break
    return count


def highlight(
    title: str, plan: Plan, marker: _Marker | None = None, explain: Explain = (), code_hit: bool = False
) -> str:
    """The title, HTML-escaped, with the words the query matched wrapped in <mark>. When
    the title does not hold every word typed but one of the code's index terms holds more,
    that term follows, marked too, with the index path it comes from: "Enlarged lymph
    nodes, unspecified — <mark>glands</mark> <mark>swollen</mark> (Swollen - see Swelling,
    glands)". `code_hit`: the query is (a prefix of) this code: nothing to explain."""
    marker = marker or _Marker(plan)
    explain = () if code_hit else explain
    marked, matched = _marked(title, marker)
    if not explain:
        return marked
    covered = _covered(marker, matched)
    if covered >= len(plan.clauses):
        return marked
    return _explained(plan, marker, marked, matched, covered, explain)


def _explained(plan: Plan, marker: _Marker, marked: str, matched: set[str], covered: int, explain: Explain) -> str:
    best: tuple[int, int, str, str] | None = None
    # marker.needles: a cheap test that passes over most terms before their stems are split
    # (and, in one go, over every term of a flat Explain that holds none: typo matches).
    needles = marker.needles
    if isinstance(explain, FlatExplain):
        text = explain.text
        for needle in needles:
            if needle in text:
                break
        else:
            return marked
    for term, path, stems_text in explain:
        for needle in needles:
            if needle in stems_text:
                break
        else:
            continue
        stems_of_term = stems_text.split()
        if marker.stems.isdisjoint(stems_of_term) and not (
            marker.prefixes and any(s.startswith(marker.prefixes) for s in stems_of_term)
        ):
            continue  # shares no word with the query: cannot explain more
        count = _covered(marker, matched.union(stems_of_term))
        if count > covered and (best is None or (count, -len(term)) > best[:2]):
            best = (count, -len(term), term, path)
            if count == len(plan.clauses):
                break  # explains every word: the index's own entries come first, take it
    if best is None:
        return marked
    _, _, term, path = best
    term_marked, _ = _marked(term, marker)
    if not path:
        return f"{marked} — {term_marked}"
    return f"{marked} — {term_marked} ({html.escape(path) if _needs_escape(path) else path})"
