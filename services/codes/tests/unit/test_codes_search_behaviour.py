"""The search behaviour suite: what coders expect (issue 2, item 5), on the real code sets.

Every test runs on each backend: the embedded tantivy index, and Elasticsearch when one
answers at ELASTICSEARCH_URL (skipped otherwise, saying so). The indexes are built once
per session from the official releases through the real importers, with the ICD-10-CM
Alphabetic Index lay terms attached as codes.loading does.
"""

from __future__ import annotations

import html
import json
import threading
import time
import uuid
from pathlib import Path

import pytest

from codes.code_sets import hcpcs, icd10cm, icd10pcs
from codes.domain import CodeRecord, code_key
from codes.loading import with_mirror_terms
from codes.search.elastic import ElasticBackend
from codes.search.embedded import EmbeddedBackend
from codes.search.planner import SCHEMA_VERSION
from medcode_common.testing import ELASTICSEARCH_URL, elastic_or_skip
from medcode_contracts.codes import CodeSystem, SearchRequest, SearchResult
from medcode_contracts.errors import BadRequest

BACKENDS = ["embedded", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)]


def _elastic_or_skip(prefix: str) -> ElasticBackend:
    backend = ElasticBackend(ELASTICSEARCH_URL, index_prefix=prefix, request_timeout=30)
    return elastic_or_skip(backend, "Elasticsearch run of the behaviour suite")


def _drop_elastic(backend: ElasticBackend) -> None:
    backend.client.indices.delete(index=f"{backend.alias}-*", ignore_unavailable=True, allow_no_indices=True)
    backend.close()


def _load_all(backend, mirror: Path) -> None:
    for importer in (icd10cm, icd10pcs, hcpcs):
        path = importer.find_release(mirror)
        assert path is not None, f"{importer.__name__}: no release found in {mirror}"
        meta, records = importer.read_edition(path)
        # Every index term the loader gives the codes (Alphabetic Index, External Cause
        # Index, Table of Drugs; PCS Index and Definitions), as codes.loading does.
        records = with_mirror_terms(meta.system, records, mirror)
        backend.replace_system(meta.system.value, meta.fingerprint, records)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request, data_mirror, tmp_path_factory):
    """A backend holding the full ICD-10-CM, ICD-10-PCS and HCPCS (with modifiers) sets."""
    if request.param == "embedded":
        built = EmbeddedBackend(tmp_path_factory.mktemp("search") / "tantivy")
        _load_all(built, data_mirror)
        yield built
        built.close()
        return
    built = _elastic_or_skip(f"medcode-test-{uuid.uuid4().hex[:8]}")
    try:
        _load_all(built, data_mirror)
        yield built
    finally:
        _drop_elastic(built)


def search(backend, query: str, **options) -> SearchResult:
    """The reply as its reader sees it: validating it checks it holds to the contract."""
    return SearchResult.model_validate(backend.search(SearchRequest(query=query, **options)))


def codes_of(result) -> list[str]:
    return [hit.node.code for hit in result.hits]


# -- codes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["k220", "K22.0", "K220", " k22.0 "])
def test_a_code_in_any_form_ranks_first(backend, query):
    result = search(backend, query)
    assert codes_of(result)[0] == "K22.0"


@pytest.mark.parametrize("query, code", [("j9035", "J9035"), ("0db64zz", "0DB64ZZ"), ("E11.9", "E11.9")])
def test_exact_code_of_each_system_ranks_first(backend, query, code):
    assert codes_of(search(backend, query))[0] == code


def test_a_code_prefix_lists_its_codes_first_in_code_order(backend):
    result = search(backend, "K22", first=100)
    codes = codes_of(result)
    k22 = [c for c in codes if code_key(c).startswith("K22")]
    assert len(k22) > 10
    assert codes[: len(k22)] == k22, "K22.x codes must come before any other hit"
    assert k22 == sorted(k22, key=code_key)
    assert k22[0] == "K22"


# -- words ---------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["cardia achalasia", "achalasia cardia", "Achalasia of Cardia"])
def test_words_in_any_order_all_required(backend, query):
    result = search(backend, query)
    assert codes_of(result)[0] == "K22.0"
    for hit in result.hits:  # implicit AND: every hit has both words somewhere
        assert "achalasia" in hit.node.title.lower() or hit.node.code == "K22.0"


def test_issue_example_achalasia_has_k220_in_first_three(backend):
    assert "K22.0" in codes_of(search(backend, "achalasia", first=3))


@pytest.mark.parametrize("query", ["achal", "achala", "cardia achal"])
def test_last_word_matches_as_prefix(backend, query):
    assert "K22.0" in codes_of(search(backend, query, first=5))


def test_prefix_applies_to_the_last_word_only(backend):
    # "achal" in first position is a whole word: no code has it.
    assert search(backend, "achal cardia").total_count == 0


@pytest.mark.parametrize("query", ["achalazia", "achalasai", "achalasia cardai"])
def test_typos_are_tolerated(backend, query):
    assert codes_of(search(backend, query, first=3))[0] == "K22.0"


def test_exact_spelling_scores_above_a_typo(backend):
    exact = search(backend, "achalasia", first=1).hits[0]
    typo = search(backend, "achalazia", first=1).hits[0]
    assert exact.node.code == typo.node.code == "K22.0"
    assert exact.score > typo.score


def test_short_words_get_no_typo_tolerance(backend):
    # "femus" (5 letters) may be one edit away; "feur" (4) must not find femur.
    assert search(backend, "feur fracture").total_count == 0


def test_plurals_and_stems_match(backend):
    plural = search(backend, "fractures of femur", first=20)
    singular = search(backend, "fracture femur", first=20)
    assert plural.total_count == singular.total_count > 100
    assert codes_of(plural) == codes_of(singular)
    assert all(code.startswith(("S72", "M8")) for code in codes_of(plural)[:10])


@pytest.mark.parametrize(
    "query, expected, within",
    [
        ("MI", "I21", 5),
        ("CHF", "I50", 3),
        ("COPD", "J44", 3),
        ("UTI", "N39.0", 5),
        ("T2DM", "E11", 3),
        ("fx femur", "S72", 3),
        ("POEM", "0DN48ZZ", 5),
        ("HTN", "I1", 5),  # hypertensive diseases, I10-I1A
        ("GERD", "K21", 3),
        ("AFib", "I48", 3),
    ],
)
def test_abbreviations_find_their_codes_near_the_top(backend, query, expected, within):
    codes = codes_of(search(backend, query, first=within))
    assert any(code.startswith(expected) for code in codes), codes


def test_abbreviation_expansion_needs_all_its_words(backend):
    # MI = myocardial AND infarction: myocarditis or a cerebral infarction alone is no match.
    result = search(backend, "MI", first=100)
    either = search(backend, "myocardial", first=1).total_count + search(backend, "infarction", first=1).total_count
    assert 0 < result.total_count < either / 4
    for hit in result.hits:
        title = hit.node.title.lower()
        assert not ("myocarditis" in title and "infarction" not in title), title
        assert not ("cerebral infarction" in title and "myocardial" not in title), title


# -- the Alphabetic Index: a query that is an index term finds that term's code first ------
# (verified in the FY2025 index: "Hypertension" -> I10, "Pneumonia" -> J18.9, "Diabetes" ->
# E11.9, "Failure, heart" -> I50.9, "Attack, heart" -> see Infarct, myocardium -> I21.9,
# "Pressure, blood, high" -> I10, "Influenza" -> J11.1 and J10 (a category))


@pytest.mark.parametrize(
    "query, code",
    [
        ("hypertension", "I10"),
        ("Hypertension", "I10"),
        ("pneumonia", "J18.9"),
        ("heart failure", "I50.9"),
        ("failure, heart", "I50.9"),  # word order is ignored: the index writes terms inverted
        ("diabetes", "E11.9"),
        ("heart attack", "I21.9"),
        ("high blood pressure", "I10"),
        ("HTN", "I10"),  # an abbreviation's expansion counts (synonyms.tsv)
        ("CHF", "I50.9"),
        ("COPD", "J44.9"),
        ("urinary tract infection", "N39.0"),  # "Infection, urinary (tract)": modifier read in
        ("UTI", "N39.0"),
        ("hypertensive urgency", "I16.0"),  # a "see" reference read with its qualifier
    ],
)
def test_an_index_term_puts_its_code_first(backend, query, code):
    assert codes_of(search(backend, query, first=5))[0] == code


def test_an_index_term_needs_the_whole_term(backend):
    # "heart" alone is no index term of I50.9: BM25 decides, and I50.9 is not forced first.
    assert codes_of(search(backend, "heart", first=1)) != ["I50.9"]
    assert codes_of(search(backend, "chronic heart failure", first=1)) != ["I50.9"]


def test_codes_sharing_an_index_term_list_billable_ones_first(backend):
    codes = codes_of(search(backend, "influenza", first=5))
    assert codes[:2] == ["J11.1", "J10"]  # J10 is a category (not billable)
    assert "J10" not in codes_of(search(backend, "influenza", billable_only=True, first=50))


def test_an_exact_code_still_comes_before_index_terms(backend):
    assert codes_of(search(backend, "I10", first=2))[0] == "I10"
    assert codes_of(search(backend, "E11.9", first=2))[0] == "E11.9"


def test_index_term_hits_respect_the_systems_filter_and_facets(backend):
    everything = search(backend, "hypertension")
    hcpcs_only = search(backend, "hypertension", systems=[CodeSystem.HCPCS], first=50)
    facets = {f.system: f.count for f in everything.facets}
    assert sum(facets.values()) == everything.total_count
    assert hcpcs_only.total_count == facets[CodeSystem.HCPCS]
    assert "I10" not in codes_of(hcpcs_only)
    assert {f.system: f.count for f in hcpcs_only.facets} == facets


@pytest.mark.parametrize("query", ["flu vaccine", "flu shot"])
def test_everyday_words_find_the_influenza_vaccine_codes(backend, query):
    codes = codes_of(search(backend, query, systems=[CodeSystem.HCPCS], first=5))
    assert "G0008" in codes  # Administration of influenza virus vaccine
    assert any(code in codes for code in ("Q2034", "Q2035", "Q2036", "Q2037", "Q2038", "Q2039"))


def test_inclusion_terms_count_as_text(backend):
    assert "K22.0" in codes_of(search(backend, "cardiospasm", first=3))


# -- filters, counts, facets, pages -------------------------------------------------------------


def test_systems_filter(backend):
    result = search(backend, "wheelchair", systems=[CodeSystem.HCPCS], first=50)
    assert result.total_count > 50
    assert {hit.node.system for hit in result.hits} == {CodeSystem.HCPCS}


def test_billable_filter(backend):
    everything = search(backend, "achalasia")
    billable = search(backend, "K22", billable_only=True, first=100)
    assert everything.total_count >= 1
    assert billable.hits and all(hit.node.billable for hit in billable.hits)
    assert "K22" not in codes_of(billable) and "K22.0" in codes_of(billable)


def test_facets_count_per_system_ignoring_the_systems_filter(backend):
    everything = search(backend, "wheelchair")
    filtered = search(backend, "wheelchair", systems=[CodeSystem.ICD10CM])
    facets = {f.system: f.count for f in everything.facets}
    assert len(facets) >= 3
    assert {f.system: f.count for f in filtered.facets} == facets
    assert sum(facets.values()) == everything.total_count
    assert filtered.total_count == facets[CodeSystem.ICD10CM]
    for system, count in facets.items():
        assert search(backend, "wheelchair", systems=[system]).total_count == count


def test_facets_respect_the_billable_filter(backend):
    result = search(backend, "K22", billable_only=True)
    assert sum(f.count for f in result.facets) == result.total_count


@pytest.mark.parametrize(
    "query, page",
    [
        ("heart failure", 37),
        ("K22", 7),
        ("wheelchair", 100),
        ("influenza", 1),
        ("influenza", 2),
        ("hypertension", 9),
        ("CHF", 5),
    ],
)
def test_cursor_pagination_walks_every_hit_once(backend, query, page):
    first = search(backend, query, first=page)
    total = first.total_count
    seen: list[tuple[str, str]] = []
    result = first
    pages = 0
    while True:
        pages += 1
        assert result.total_count == total
        assert len(result.hits) == min(page, total - len(seen))
        seen += [(h.node.system.value, h.node.code) for h in result.hits]
        assert result.end_cursor == (result.hits[-1].cursor if result.hits else None)
        if not result.has_next_page:
            break
        assert pages < 100
        result = search(backend, query, first=page, after=result.end_cursor)
    assert len(seen) == len(set(seen)) == total


def test_a_hit_cursor_continues_right_after_that_hit(backend):
    ten = search(backend, "heart failure", first=10)
    rest = search(backend, "heart failure", first=5, after=ten.hits[4].cursor)
    assert codes_of(rest) == codes_of(ten)[5:10]


def test_no_hits(backend):
    result = search(backend, "zzzzqqqq xxyyzz")
    assert (result.total_count, result.hits, result.has_next_page, result.end_cursor, result.facets) == (
        0,
        [],
        False,
        None,
        [],
    )


# -- highlight ------------------------------------------------------------------------------


def test_highlight_marks_the_matched_words(backend):
    hit = search(backend, "cardia achalasia", first=1).hits[0]
    assert hit.highlight == "<mark>Achalasia</mark> of <mark>cardia</mark>"


def test_highlight_marks_prefix_typo_and_synonym_matches(backend):
    assert search(backend, "achal", first=1).hits[0].highlight == "<mark>Achalasia</mark> of cardia"
    assert search(backend, "achalazia", first=1).hits[0].highlight == "<mark>Achalasia</mark> of cardia"
    mi = search(backend, "MI", first=1).hits[0].highlight
    assert "<mark>myocardial</mark> <mark>infarction</mark>" in mi.lower()


@pytest.mark.parametrize(
    "query, code, says",
    [
        # "swollen" is "swelling" (everyday.tsv, after the index's "Swollen - see Swelling"):
        # the index entry that holds the words, and its path
        ("swollen glands", "R59.9", "<mark>glands</mark> <mark>swelling</mark> (Swelling, glands)"),
        # a Table of Drugs term, through the everyday words (Tylenol = acetaminophen)
        (
            "tylenol overdose",
            "T39.1X1",
            "<mark>acetaminophen</mark> <mark>poisoning</mark> (Table of "
            "Drugs and Chemicals: Acetaminophen (Poisoning, accidental",
        ),
        # a PCS Index term
        ("tummy tuck", "0W0F", "ICD-10-PCS Index: Abdominoplasty - see"),
    ],
)
def test_highlight_says_which_index_term_matched_when_the_title_does_not(backend, query, code, says):
    hit = next(h for h in search(backend, query, first=10).hits if code_key(h.node.code).startswith(code_key(code)))
    title, _, explanation = hit.highlight.partition(" — ")
    assert title.replace("<mark>", "").replace("</mark>", "") == html.escape(hit.node.title)
    assert says in explanation, hit.highlight


def test_highlight_is_the_title_alone_when_the_title_holds_every_word(backend):
    hit = search(backend, "flat foot", first=1).hits[0]
    assert " — " not in hit.highlight and "<mark>" in hit.highlight


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_blank_query_is_a_bad_request(backend, query):
    with pytest.raises(BadRequest, match="query must not be empty"):
        search(backend, query)


@pytest.mark.parametrize("cursor", ["nonsense", "djE6LTE", "!!", "eA"])
def test_malformed_cursor_is_a_bad_request(backend, cursor):
    with pytest.raises(BadRequest, match="not a valid cursor"):
        search(backend, "achalasia", after=cursor)


# -- replacement ----------------------------------------------------------------------------


def _edition(tag: str, size: int, system=CodeSystem.ICD10PCS):
    for i in range(size):
        yield CodeRecord(
            system=system, code=f"0ZZ{i:04d}", billable=True, title=f"Zyxwidget {tag} procedure number {i}"
        )


@pytest.fixture(params=BACKENDS)
def fresh_backend(request, tmp_path):
    if request.param == "embedded":
        built = EmbeddedBackend(tmp_path / "tantivy")
        yield built
        built.close()
        return
    built = _elastic_or_skip(f"medcode-test-{uuid.uuid4().hex[:8]}")
    yield built
    _drop_elastic(built)


def test_replace_system_is_atomic_for_concurrent_searchers(fresh_backend):
    size = 400
    fresh_backend.replace_system("ICD10PCS", "old", _edition("oldset", size))
    fresh_backend.replace_system("HCPCS", "h1", _edition("other", 5, CodeSystem.HCPCS))

    def slow_new_edition():
        for i, record in enumerate(_edition("newset", size)):
            if i % 20 == 0:
                time.sleep(0.005)  # give searchers many chances to look mid-load
            yield record

    failures: list[BaseException] = []

    def replace():
        try:
            fresh_backend.replace_system("ICD10PCS", "new", slow_new_edition())
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    writer = threading.Thread(target=replace)
    writer.start()
    observed = set()
    while writer.is_alive() or not observed:
        fresh_backend.refresh()
        result = search(fresh_backend, "zyxwidget", systems=[CodeSystem.ICD10PCS], first=100)
        tags = {hit.node.title.split()[1] for hit in result.hits}
        assert result.total_count == size and len(tags) == 1, (result.total_count, tags)
        observed |= tags
        time.sleep(0.001)  # lets the writer run when threads are green (nameko test / eventlet)
    writer.join()
    assert not failures
    fresh_backend.refresh()
    result = search(fresh_backend, "zyxwidget newset", systems=[CodeSystem.ICD10PCS])
    assert result.total_count == size
    assert search(fresh_backend, "zyxwidget oldset").total_count == 0
    assert search(fresh_backend, "zyxwidget other").total_count == 5  # other systems untouched
    assert fresh_backend.indexed_editions() == {"ICD10PCS": "new", "HCPCS": "h1"}


def test_a_failed_replacement_keeps_the_previous_edition(fresh_backend):
    fresh_backend.replace_system("ICD10PCS", "old", _edition("oldset", 30))

    def broken():
        yield from _edition("newset", 10)
        raise ValueError("malformed release, line 11")

    with pytest.raises(ValueError, match="line 11"):
        fresh_backend.replace_system("ICD10PCS", "new", broken())
    fresh_backend.refresh()
    assert search(fresh_backend, "zyxwidget oldset").total_count == 30
    assert search(fresh_backend, "zyxwidget newset").total_count == 0
    assert fresh_backend.indexed_editions() == {"ICD10PCS": "old"}


def test_modifiers_brought_by_the_hcpcs_edition_are_replaced_with_it(fresh_backend):
    def edition(tag):
        yield from _edition(tag, 3, CodeSystem.HCPCS)
        yield CodeRecord(system=CodeSystem.MODIFIER, code="Q9", title=f"Zyxwidget {tag} modifier", billable=True)

    fresh_backend.replace_system("HCPCS", "1", edition("oldset"))
    fresh_backend.replace_system("HCPCS", "2", edition("newset"))
    fresh_backend.refresh()
    result = search(fresh_backend, "zyxwidget")
    assert result.total_count == 4
    assert {f.system: f.count for f in result.facets} == {CodeSystem.HCPCS: 3, CodeSystem.MODIFIER: 1}
    assert fresh_backend.indexed_editions() == {"HCPCS": "2"}


def test_embedded_index_persists_and_refresh_sees_other_writers(tmp_path):
    directory = tmp_path / "tantivy"
    reader = EmbeddedBackend(directory)
    assert reader.indexed_editions() == {}
    loader = EmbeddedBackend(directory)  # stands for the loader CLI's process
    loader.replace_system("ICD10PCS", "e1", _edition("oldset", 12))
    loader.close()
    assert search(reader, "zyxwidget").total_count == 0  # still its old snapshot
    reader.refresh()
    assert search(reader, "zyxwidget").total_count == 12
    assert reader.indexed_editions() == {"ICD10PCS": "e1"}
    reopened = EmbeddedBackend(directory)
    assert reopened.indexed_editions() == {"ICD10PCS": "e1"}
    assert search(reopened, "zyxwidget oldset").total_count == 12


# -- an index made for an older schema is rebuilt ----------------------------------------------


class _OneEditionStore:
    """The part of codes.storage.CodeStore that sync_search_index reads."""

    def __init__(self, edition_id: str, records):
        self.edition_id = edition_id
        self.records = records

    def current_edition_ids(self):
        return {"ICD10PCS": self.edition_id}

    def iter_records(self, system):
        assert system == "ICD10PCS"
        return iter(self.records)


def _outdated_embedded(directory: Path) -> None:
    """An index as the first layout left it (tantivy files right in the directory, fields of
    that time) plus the directory of an older versioned layout."""
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("kind", tokenizer_name="raw")
    sb.add_text_field("load", stored=True, tokenizer_name="raw")
    sb.add_text_field("edition", stored=True, tokenizer_name="raw")
    sb.add_text_field("title", stored=True)
    directory.mkdir(parents=True)
    index = tantivy.Index(sb.build(), path=str(directory))
    writer = index.writer()
    writer.add_document(tantivy.Document(kind="edition", load="ICD10PCS", edition="e1"))
    writer.add_document(tantivy.Document(kind="code", load="ICD10PCS", title="Zyxwidget oldset"))
    writer.commit()
    writer.wait_merging_threads()
    del writer
    (directory / "v1").mkdir()
    (directory / "v1" / "meta.json").write_text("{}")


def _outdated_elastic(backend: ElasticBackend) -> None:
    """An index whose mapping predates the index-term fields (no schema version in _meta)."""
    from codes.search import elastic

    mappings = elastic.index_mappings("ICD10PCS", "e1")
    del mappings["_meta"]["schema"]
    for field in ("index_terms", "term_rank"):
        del mappings["properties"][field]
    old = f"{backend.alias}-icd10pcs-1"
    backend.client.indices.create(index=old, settings=elastic.INDEX_SETTINGS, mappings=mappings)
    record = next(_edition("oldset", 1))
    source = {k: v for k, v in elastic.document("ICD10PCS", record).items() if k in mappings["properties"]}
    backend.client.index(index=old, id="ICD10PCS:0ZZ0000", document=source, refresh=True)
    backend.client.indices.update_aliases(actions=[{"add": {"index": old, "alias": backend.alias}}])


@pytest.mark.parametrize("kind", BACKENDS)
def test_an_index_of_an_older_schema_is_rebuilt_by_the_loader(kind, tmp_path):
    from codes.loading import sync_search_index

    if kind == "embedded":
        directory = tmp_path / "tantivy"
        _outdated_embedded(directory)
        backend = EmbeddedBackend(directory)  # opens: no crash, and nothing counts as indexed
        assert backend.outdated_indexes()
    else:
        backend = _elastic_or_skip(f"medcode-test-{uuid.uuid4().hex[:8]}")
        _outdated_elastic(backend)
    try:
        assert backend.indexed_editions() == {}  # so the loader re-indexes every system
        search(backend, "zyxwidget")  # a search in between fails on neither
        store = _OneEditionStore("e1", list(_edition("newset", 3)))
        assert sync_search_index(store, backend) == ["ICD10PCS"]
        assert sync_search_index(store, backend) == []
        backend.refresh()
        assert backend.indexed_editions() == {"ICD10PCS": "e1"}
        assert search(backend, "zyxwidget newset").total_count == 3
        assert search(backend, "zyxwidget oldset").total_count == 0
        if kind == "embedded":
            assert backend.outdated_indexes() == []
            assert sorted(p.name for p in directory.iterdir()) == [f"v{SCHEMA_VERSION}"]
            backend.close()
            assert EmbeddedBackend(directory).indexed_editions() == {"ICD10PCS": "e1"}
    finally:
        if kind == "embedded":
            backend.close()
        else:
            _drop_elastic(backend)


# -- the public test set of everyday-language queries (issue 14) ---------------------------------

EVERYDAY_QUERIES = Path(__file__).with_name("everyday_queries.tsv")
# The queries the issue names as finding nothing relevant before: each must be in the first ten.
ISSUE_QUERIES = [
    "water on the knee",
    "pulled hamstring",
    "swollen glands",
    "flat feet",
    "cold sore",
    "hysterectomy",
    "vasectomy",
    "gallbladder removal",
    "wisdom tooth extraction",
    "tummy tuck",
    "knee brace",
    "cpap machine",
]


def _everyday_queries() -> list[tuple[str, tuple[str, ...], str]]:
    rows = []
    for number, line in enumerate(EVERYDAY_QUERIES.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        query, accepted, source = line.split("\t")
        assert query.strip() and accepted.split() and source.strip(), f"line {number}: {line!r}"
        rows.append((query, tuple(code_key(c) for c in accepted.split()), source))
    return rows


def test_the_public_set_is_large_and_says_where_each_answer_comes_from():
    rows = _everyday_queries()
    assert len(rows) >= 200
    assert len({q for q, _, _ in rows}) == len(rows), "a query is listed twice"
    assert set(ISSUE_QUERIES) <= {q for q, _, _ in rows}


def test_everyday_language_finds_the_accepted_codes(backend, capsys):
    rows = _everyday_queries()
    found = first = 0
    misses = []
    for query, accepted, _ in rows:
        keys = [code_key(c) for c in codes_of(search(backend, query, first=10))]
        rank = next((i for i, key in enumerate(keys) if key.startswith(accepted)), None)
        found += rank is not None
        first += rank == 0
        if rank is None:
            misses.append(query)
    recall, share_first = found / len(rows), first / len(rows)
    with capsys.disabled():
        print(
            f"\n[{type(backend).__name__}] everyday queries: {len(rows)}, recall@10 {recall:.3f}, "
            f"accepted code first {share_first:.3f}; not in the first ten: {misses}"
        )
    assert not set(ISSUE_QUERIES) & set(misses)
    assert recall >= 0.95 and share_first >= 0.7, (recall, share_first, misses)


def test_the_reply_is_what_the_contract_models_dump(backend):
    """A backend builds its reply as plain data (execute.execute): it must be, to the byte,
    the JSON the contract's models give (types, key order, null cursor, facet order)."""
    requests = [{"query": q, "first": 10} for q, _, _ in _everyday_queries()]
    for query in ("K22.0", "j9035", "0DB64ZZ", "CHF", "achalazia", "femur fract", "<b>&", "zzzzqqq"):
        requests += [
            {"query": query},
            {"query": query, "first": 3, "after": "djE6Mg"},
            {"query": query, "systems": ["ICD10PCS", "HCPCS"], "billable_only": True},
        ]
    for request in requests:
        reply = backend.search(SearchRequest(**request))
        dumped = SearchResult.model_validate(reply).model_dump(mode="json")
        assert json.dumps(reply) == json.dumps(dumped), request
