"""The platform's one tantivy text analyzer and index write, for every search index
(codes, careers).

Words are runs of letters and digits, lower-cased and ASCII-folded (`Ménière` ->
`meniere`); with `stem`, English Snowball stems (`fractures` -> `fractur`). Each caller
gets a fresh analyzer, since tantivy needs its own instance to register as a tokenizer.
"""

from __future__ import annotations

from collections.abc import Callable

import tantivy

# Longer "words" are noise (base64, long numbers) and would bloat the term dictionary.
MAX_WORD_LEN = 40


def english_analyzer(stem: bool) -> tantivy.TextAnalyzer:
    builder = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_WORD_LEN))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
    )
    if stem:
        builder = builder.filter(tantivy.Filter.stemmer("english"))
    return builder.build()


def write_atomically(writer: tantivy.IndexWriter, change: Callable[[tantivy.IndexWriter], None]) -> None:
    """`change(writer)`, then commit and wait for merges; on any failure roll back, so a
    reader sees all of the change or none. The caller drops `writer` afterwards (that
    releases the index's write lock)."""
    try:
        change(writer)
        writer.commit()
        writer.wait_merging_threads()
    except BaseException:
        writer.rollback()
        raise
