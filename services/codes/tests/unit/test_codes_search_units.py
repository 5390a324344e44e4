"""Unit tests of the engine-neutral search pieces and of the Elasticsearch query translation
(which runs here even with no Elasticsearch server: the request bodies are pure data)."""

from __future__ import annotations

import base64

import pytest

from codes.domain import CodeRecord, code_key
from codes.search import elastic, embedded, synonyms
from codes.search.analysis import index_term_key, index_term_keys, plain_words, stems
from codes.search.embedded import code_order
from codes.search.execute import FlatExplain, _marked, _Marker, execute, flat_explain, highlight
from codes.search.planner import (
    CODE,
    MAX_TERM_KEYS,
    SCHEMA_VERSION,
    TERM,
    TEXT,
    Word,
    code_prefix_of,
    decode_cursor,
    encode_cursor,
    make_plan,
    term_rank,
)
from medcode_contracts.codes import CodeSystem, SearchRequest, SearchResult
from medcode_contracts.errors import BadRequest


def billable_record(system: CodeSystem, code: str, title: str, **facts) -> CodeRecord:
    return CodeRecord(system=system, code=code, title=title, billable=True, **facts)


def plan(query: str, lexicon=None, **options):
    return make_plan(SearchRequest(query=query, **options), lexicon)


def test_analyzer_folds_lowercases_splits_and_stems():
    assert stems("Ménière's FRACTURES, of-femur") == ["menier", "s", "fractur", "of", "femur"]
    assert plain_words("Ménière's FRACTURES") == ["meniere", "s", "fractures"]


@pytest.mark.parametrize(
    "query, key",
    [("k220", "K220"), ("K22.0", "K220"), ("K22", "K22"), ("j9035", "J9035"), ("0DB64ZZ", "0DB64ZZ"), ("T2DM", "T2DM")],
)
def test_code_like_queries(query, key):
    assert code_prefix_of(query) == key
    assert plan(query).segments == (CODE, TERM, TEXT)


@pytest.mark.parametrize("query", ["achalasia", "K22 achalasia", "x", "K", "A1234567", "k2-2"])
def test_not_code_like(query):
    assert code_prefix_of(query) is None


def test_words_stopwords_prefix_and_typo_distance():
    p = plan("Fractures of the femoral neck")
    words = [alt[0] for clause in p.clauses for alt in clause.alternatives]
    assert [w.stem for w in words] == ["fractur", "femor", "neck"]
    assert [w.fuzzy for w in words] == [2, 1, 0]  # 9 letters: 2; 7 letters: 1; 4: none
    assert [w.prefix for w in words] == [False, False, True]
    assert all(c.required for c in p.clauses)


def test_only_stopwords_are_searched_rather_than_nothing():
    assert [c.alternatives[0][0].plain for c in plan("of the").clauses] == ["of", "the"]


def test_single_letters_rank_but_do_not_filter():
    clauses = plan("vitamin d deficiency").clauses
    assert [c.required for c in clauses] == [True, False, True]


def test_lexicon_turns_typo_matching_off_for_known_words():
    p = plan("achalasia cardiospasmm", lexicon=lambda words: [w.plain == "achalasia" for w in words])
    assert [c.alternatives[0][0].fuzzy for c in p.clauses] == [0, 2]


def test_a_word_typed_twice_is_known_in_both_places():
    # the two clauses hold one shared Word object (planner._typed_word is memoised): the lexicon's
    # answer must reach both, and a later plan's words must not see the change
    known = plan("fracture fracture femur", lexicon=lambda words: [w.plain == "fracture" for w in words])
    assert [(c.alternatives[0][0].plain, c.alternatives[0][0].fuzzy) for c in known.clauses] == [
        ("fracture", 0),
        ("fracture", 0),
        ("femur", 1),
    ]
    assert [c.alternatives[0][0].fuzzy for c in plan("fracture fracture femur").clauses] == [2, 2, 1]


def test_synonym_match_skips_words_that_start_no_term():
    table = synonyms.parse("cpap machine\tcontinuous positive airway pressure device\nchf\tcongestive heart failure\n")
    assert table.match(["cpap", "machine"], 0) == (2, (("continuous", "positive", "airway", "pressure", "device"),))
    assert table.match(["cpap"], 0) is None  # starts a term, is none by itself
    assert table.match(["acute", "chf"], 0) is None
    assert table.match(["acute", "chf"], 1) == (1, (("congestive", "heart", "failure"),))


def test_abbreviation_clause_is_the_abbreviation_or_an_expansion():
    (clause,) = plan("CHF").clauses
    assert [[w.stem for w in alt] for alt in clause.alternatives] == [
        ["chf"],
        ["congest", "heart", "failur"],
        ["heart", "failur"],
    ]
    assert all(not w.prefix and not w.fuzzy for alt in clause.alternatives for w in alt)


def test_multi_word_synonym_terms():
    (clause, femur) = plan("heart attack femur").clauses
    assert [w.stem for w in clause.alternatives[1]] == ["myocardi", "infarct"]
    assert femur.alternatives[0][0].stem == "femur"


def test_synonym_file_has_the_issue_abbreviations():
    entries = synonyms.load().entries
    for term in ["poem", "mi", "chf", "copd", "uti", "t2dm", "fx", "htn", "dm", "ckd", "afib", "gerd", "cabg"]:
        assert (term,) in entries, term


def test_synonym_file_has_everyday_words():
    entries = synonyms.load().entries
    assert entries[("flu",)] == (("influenza",),)
    assert entries[("n", "v")] == (("nausea", "vomiting"),)  # "N/V"
    assert ("bp",) in entries and ("flu", "shot") in entries and ("v", "fib") in entries


@pytest.mark.parametrize(
    "text, problem",
    [
        ("MI myocardial infarction", "expected"),  # no tab
        ("MI\t", "expected"),
        ("MI\tmyocardial infarction\nmi\theart attack", "listed twice"),
    ],
)
def test_bad_synonym_lines_name_the_line(text, problem):
    with pytest.raises(synonyms.SynonymFileError, match=problem) as info:
        synonyms.parse(text, "syn.tsv")
    assert "syn.tsv line" in str(info.value)


def test_cursor_round_trip_and_errors():
    assert decode_cursor(encode_cursor(42)) == 42
    for bad in ["", "%%%", base64.urlsafe_b64encode(b"v2:3").decode(), encode_cursor(10**9)]:
        with pytest.raises(BadRequest):
            decode_cursor(bad)


@pytest.mark.parametrize(
    "query, message",
    [("", "must not be empty"), ("  ", "must not be empty"), ("?!", "letters or digits"), ("a" * 300, "too long")],
)
def test_bad_queries(query, message):
    with pytest.raises(BadRequest, match=message):
        plan(query)


def test_highlight_escapes_html_and_marks_words():
    p = plan("fx <b>femur")
    assert (
        highlight("Fracture of <b> femur & hip", p)
        == "<mark>Fracture</mark> of &lt;<mark>b</mark>&gt; <mark>femur</mark> &amp; hip"
    )


def test_highlight_marks_typos_and_prefixes():
    p = plan("cardai achal", lexicon=lambda words: [False] * len(words))
    assert highlight("Achalasia of cardia", p) == "<mark>Achalasia</mark> of <mark>cardia</mark>"


def test_code_order_sorts_like_the_key():
    keys = ["K22", "K220", "K2210", "K23", "J9035", "0DB64ZZ", "A00", "Z99"]
    assert sorted(keys, key=code_order) == sorted(keys)


# -- Elasticsearch translation -----------------------------------------------------------------


def test_es_word_query_has_the_same_parts_as_the_plan():
    q = elastic.word_query(Word(plain="achalazia", stem="achalazia", fuzzy=2, prefix=True))
    should = q["bool"]["should"]
    assert should[0] == {"term": {"title_stems": {"value": "achalazia", "boost": 1.0}}}
    assert should[1]["term"]["terms_stems"]["value"] == "achalazia"
    # Within 1 edit and within 2 edits, half the typo score each: the closer match ranks first.
    fuzzy = [part["constant_score"] for part in should[2:4]]
    assert [f["filter"]["fuzzy"]["words"]["fuzziness"] for f in fuzzy] == [1, 2]
    assert [f["boost"] for f in fuzzy] == [0.1, 0.1]
    assert should[4]["constant_score"]["filter"] == {"prefix": {"words": {"value": "achalazia"}}}
    assert q["bool"]["minimum_should_match"] == 1


def test_es_text_segment_with_filters_and_code_exclusion():
    p = plan("K22", billable_only=True, systems=[CodeSystem.ICD10CM])
    body = elastic.page_body(p, TEXT, 20, 10)
    query = body["query"]["bool"]
    assert query["must_not"] == [
        {"terms": {"index_terms": ["k22"]}},  # the term segment's hits
        {"prefix": {"key": {"value": "K22"}}},
    ]  # the code segment's
    assert {"term": {"billable": True}} in query["filter"]
    assert {"terms": {"system": ["ICD10CM"]}} in query["filter"]
    assert (body["from"], body["size"]) == (20, 10)
    assert body["sort"][0] == "_score"


def test_es_code_segment_sorts_by_key_and_counts_ignore_systems():
    p = plan("k22.0", systems=[CodeSystem.HCPCS])
    page = elastic.page_body(p, CODE, 0, 5)
    assert page["query"]["bool"]["filter"][0] == {"prefix": {"key": {"value": "K220"}}}
    assert page["sort"] == [{"key": "asc"}]
    counts = elastic.counts_body(p, CODE)
    assert counts["size"] == 0 and "terms" in counts["aggs"]["systems"]
    assert {"terms": {"system": ["HCPCS"]}} not in counts["query"]["bool"]["filter"]


def test_es_synonym_alternatives_and_optional_words():
    p = plan("MI d")
    must = elastic.segment_query(p, TEXT, True)["bool"]
    (mi,) = must["must"]
    alternatives = mi["bool"]["should"]
    assert len(alternatives) == 2 and len(alternatives[1]["bool"]["must"]) == 2
    assert len(must["should"]) == 1  # the lone letter ranks only


def test_es_lexicon_request_and_answer():
    words = [Word("achal", "achal", 1, True), Word("cardai", "cardai", 1)]
    body = elastic.lexicon_body(words)
    assert {"prefix": {"words": {"value": "achal"}}} in body["aggs"]["w0"]["filter"]["bool"]["should"]
    assert len(body["aggs"]["w1"]["filter"]["bool"]["should"]) == 3
    answer = {"aggregations": {"w0": {"doc_count": 3}, "w1": {"doc_count": 0}}}
    assert elastic.lexicon_answer(answer, 2) == [True, False]


def test_es_documents_hold_the_pre_analysed_terms():
    record = billable_record(
        CodeSystem.MODIFIER, "K22.0", "Achalasia of cardia", notes={"inclusion_terms": ["Cardiospasm", "Achalasia NOS"]}
    )
    doc = elastic.document("HCPCS", record)
    assert doc["title_stems"] == "achalasia of cardia"
    assert doc["terms_stems"] == ["cardiospasm", "achalasia nos"]
    assert doc["words"][0] == "achalasia of cardia"
    assert (doc["load"], doc["system"], doc["key"]) == ("HCPCS", "MODIFIER", "K220")
    mapping = elastic.index_mappings("HCPCS", "ed1")
    assert mapping["_meta"] == {"load": "HCPCS", "edition": "ed1", "schema": SCHEMA_VERSION}
    assert set(doc) == set(mapping["properties"])


def test_es_rows_from_a_response():
    response = {
        "hits": {
            "hits": [
                {
                    "_score": 3.5,
                    "_source": {"system": "ICD10CM", "code": "K22.0", "title": "Achalasia of cardia", "billable": True},
                }
            ]
        }
    }
    ((score, node, explain),) = elastic.rows_of(response, TEXT)
    assert (score, node, explain) == (
        3.5,
        {"system": "ICD10CM", "code": "K22.0", "title": "Achalasia of cardia", "billable": True},
        (),
    )
    response["hits"]["hits"][0]["_source"]["explain"] = {"terms": [["cardiospasm", "Cardiospasm", "cardiospasm"]]}
    assert elastic.rows_of(response, TEXT)[0][2] == (("cardiospasm", "Cardiospasm", "cardiospasm"),)


# -- alphabetic-index terms ----------------------------------------------------------------------


def test_index_term_keys_ignore_case_order_stop_words_and_word_forms():
    assert index_term_key("Failure, heart") == index_term_key("heart failure") == "failur heart"
    assert index_term_key("pressure blood, high") == index_term_key("High blood pressure")
    assert index_term_key("Fractures of the femur") == index_term_key("femur fracture")
    assert index_term_key("of the") == "of the"  # nothing but stop words: kept
    assert index_term_key(" ,; ") == ""
    assert index_term_keys(["Heart failure", "failure, heart", "", "cardiac failure"]) == [
        "failur heart",
        "cardiac failur",
    ]


def test_plan_term_keys_come_from_the_words_and_the_synonyms():
    assert plan("Hypertension").term_keys == ("hypertens",)
    assert plan("hypertension").segments == (TERM, TEXT)
    assert plan("CHF").term_keys == ("chf", "congest failur heart", "failur heart")
    assert plan("heart failure").term_keys == plan("failure of heart").term_keys
    assert plan("vitamin d deficiency").term_keys == ("d defici vitamin",)  # optional words too


def test_plan_leaves_out_the_term_keys_no_code_has():
    asked = []

    def term_lexicon(keys):
        asked.append(list(keys))
        return [key == "failur heart" for key in keys]

    chf = make_plan(SearchRequest(query="CHF"), None, term_lexicon)
    assert asked == [["chf", "congest failur heart", "failur heart"]]
    assert chf.term_keys == ("failur heart",) and chf.segments == (TERM, TEXT)
    # no key left: no term segment to run
    achal = make_plan(SearchRequest(query="achal"), None, term_lexicon)
    assert achal.term_keys == () and achal.segments == (TEXT,)


def test_plan_term_keys_are_bounded():
    keys = plan("CHF CHF CHF CHF").term_keys  # 3**4 combinations
    assert 0 < len(keys) <= MAX_TERM_KEYS


def test_term_rank_orders_billable_then_shorter_then_by_code():
    ranked = sorted(
        [("J10", False), ("J11.1", True), ("J11.00", True), ("I10", True)],
        key=lambda c: term_rank(code_key(c[0]), c[1]),
    )
    assert [code for code, _ in ranked] == ["I10", "J11.1", "J11.00", "J10"]
    assert term_rank("ZZZZZZZZ", False) < 2**48


class _FakeEngine:
    """An `Engine` over fixed segment results, recording the calls."""

    def __init__(self, segments: dict[str, list[tuple[str, str]]]):
        self.segments = segments
        self.calls: list[tuple] = []

    def system_counts(self, plan, segment):
        self.calls.append(("counts", segment))
        counts: dict[str, int] = {}
        for system, _ in self.segments.get(segment, []):
            counts[system] = counts.get(system, 0) + 1
        return counts

    def fetch(self, plan, segment, offset, limit):
        self.calls.append(("fetch", segment, offset, limit))
        return [
            (1.0, {"system": system, "code": code, "title": code, "billable": True}, ())
            for system, code in self.segments.get(segment, [])[offset : offset + limit]
        ]


def _walk(query: str, engine: _FakeEngine, page: int) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        result = SearchResult.model_validate(execute(plan(query, first=page, after=after), engine))
        assert result.total_count == 7
        assert sum(f.count for f in result.facets) == 7
        seen += [hit.node.code for hit in result.hits]
        if not result.has_next_page:
            return seen
        after = result.end_cursor


@pytest.mark.parametrize("page", [1, 2, 3, 6, 7, 20])
def test_pages_walk_the_segments_one_after_the_other(page):
    engine = _FakeEngine(
        {
            CODE: [("ICD10CM", "K22"), ("ICD10CM", "K22.0")],
            TERM: [("ICD10CM", "K21.9")],
            TEXT: [("ICD10CM", "A"), ("HCPCS", "B"), ("HCPCS", "C"), ("ICD10CM", "D")],
        }
    )
    assert _walk("K22", engine, page) == ["K22", "K22.0", "K21.9", "A", "B", "C", "D"]


def test_a_first_page_holding_every_hit_needs_no_counting():
    engine = _FakeEngine({TERM: [("ICD10CM", "I10")], TEXT: [("ICD10CM", "I16.0")]})
    result = SearchResult.model_validate(execute(plan("hypertension", first=5), engine))
    assert [h.node.code for h in result.hits] == ["I10", "I16.0"] and result.total_count == 2
    assert [c[0] for c in engine.calls] == ["fetch", "fetch"]


def test_a_full_first_page_is_fetched_once_then_counted():
    engine = _FakeEngine({TERM: [("ICD10CM", "I10")], TEXT: [("ICD10CM", c) for c in "ABCD"]})
    result = SearchResult.model_validate(execute(plan("hypertension", first=3), engine))
    assert [h.node.code for h in result.hits] == ["I10", "A", "B"]
    assert (result.total_count, result.has_next_page) == (5, True)
    assert engine.calls == [("fetch", TERM, 0, 3), ("fetch", TEXT, 0, 2), ("counts", TERM), ("counts", TEXT)]


def test_es_term_segment_filters_by_index_terms_and_sorts_by_rank():
    p = plan("CHF", systems=[CodeSystem.ICD10CM])
    body = elastic.page_body(p, TERM, 0, 10)
    query = body["query"]["bool"]
    assert query["filter"][0] == {"terms": {"index_terms": list(p.term_keys)}}
    assert {"terms": {"system": ["ICD10CM"]}} in query["filter"]
    assert "must" not in query and "must_not" not in query
    assert body["sort"][0] == {"term_rank": {"order": "asc", "unmapped_type": "long"}}
    code_like = elastic.segment_query(plan("T2DM"), TERM, True)["bool"]
    assert code_like["must_not"] == [{"prefix": {"key": {"value": "T2DM"}}}]
    response = {
        "hits": {
            "hits": [
                {
                    "_score": None,
                    "_source": {
                        "system": "ICD10CM",
                        "code": "I50.9",
                        "title": "Heart failure, unspecified",
                        "billable": True,
                    },
                }
            ]
        }
    }
    assert elastic.rows_of(response, TERM)[0][0] == 1.0


def test_es_documents_hold_index_term_keys_and_rank():
    record = billable_record(
        CodeSystem.ICD10CM,
        "I50.9",
        "Heart failure, unspecified",
        lay_terms=["heart failure", "failure, heart", "cardiac failure"],
    )
    doc = elastic.document("ICD10CM", record)
    assert doc["index_terms"] == ["failur heart", "cardiac failur"]
    assert doc["term_rank"] == term_rank("I509", True)
    properties = elastic.index_mappings("ICD10CM", "e")["properties"]
    assert properties["index_terms"] == {"type": "keyword"} and properties["term_rank"]["type"] == "long"


class _Answer:
    def __init__(self, body):
        self.body = body


class _FakeIndices:
    def __init__(self, mappings):
        self.mappings = mappings

    def get_alias(self, name=None, index=None):
        return _Answer({name: {} for name in self.mappings})

    def get_mapping(self, index):
        return _Answer({name: {"mappings": m} for name, m in self.mappings.items()})


class _FakeClient:
    def __init__(self, mappings):
        self.indices = _FakeIndices(mappings)


def test_es_indexed_editions_leave_out_indexes_of_another_mapping_version():
    current = elastic.index_mappings("HCPCS", "h2")
    old = elastic.index_mappings("ICD10CM", "c1")
    del old["_meta"]["schema"]
    older = elastic.index_mappings("ICD10PCS", "p1")
    older["_meta"]["schema"] = SCHEMA_VERSION - 1
    client = _FakeClient({"x-hcpcs-1": current, "x-icd10cm-1": old, "x-icd10pcs-1": older})
    backend = elastic.ElasticBackend("http://es.invalid:9200", index_prefix="x", client=client)
    assert backend.indexed_editions() == {"HCPCS": "h2"}


def test_an_elasticsearch_failure_tells_clients_nothing_about_the_cluster():
    from elasticsearch import ConnectionError as TransportConnectionError

    from medcode_contracts.errors import Unavailable

    url = "http://search-cluster.internal.example:9200"
    with pytest.raises(Unavailable) as refused:
        with elastic._ErrorContext(url, "search"):
            raise TransportConnectionError(f"Connection refused to {url}")
    assert "search-cluster" not in str(refused.value) and "9200" not in str(refused.value)
    assert str(refused.value) == "The search engine could not search just now: try again shortly."


def test_highlight_explains_a_match_by_the_index_term_that_holds_the_words():
    plan = make_plan(SearchRequest(query="swollen glands"))
    explain = (
        ("lymph gland or node enlargement", "Enlargement, enlarged, lymph gland or node", "lymph gland or node enlarg"),
        ("glands swollen", "Swollen - see Swelling, glands", "gland swollen"),
    )
    assert highlight("Enlarged lymph nodes, unspecified", plan, explain=explain) == (
        "Enlarged lymph nodes, unspecified — <mark>glands</mark> <mark>swollen</mark> (Swollen - see Swelling, glands)"
    )
    # the title holds every word: no explanation; no index term adds a word: none either
    assert highlight("Swollen glands", plan, explain=explain) == "<mark>Swollen</mark> <mark>glands</mark>"
    assert highlight("Something else", plan, explain=(("other", "", "other"),)) == "Something else"
    # the flat form an engine stores explains alike; one that holds no word typed is passed over whole
    flat = FlatExplain(flat_explain(explain))
    assert list(flat) == list(explain)
    assert highlight("Enlarged lymph nodes, unspecified", plan, explain=flat) == (
        "Enlarged lymph nodes, unspecified — <mark>glands</mark> <mark>swollen</mark> (Swollen - see Swelling, glands)"
    )
    unrelated = FlatExplain(flat_explain([("other", "", "other"), ("broken", "", "broken")]))
    assert highlight("Something else", plan, explain=unrelated) == "Something else"
    # a hit the query names by its code needs no explanation
    assert (
        highlight("Enlarged lymph nodes, unspecified", plan, explain=explain, code_hit=True)
        == "Enlarged lymph nodes, unspecified"
    )


def test_documents_carry_the_index_terms_and_paths_for_the_highlight():
    record = billable_record(
        CodeSystem.ICD10CM,
        "R59.9",
        "Enlarged lymph nodes, unspecified",
        lay_terms=["glands swollen", "adenopathy"],
        lay_paths={"glands swollen": "Swollen - see Swelling, glands"},
    )
    assert elastic.document("ICD10CM", record)["explain"] == {
        "terms": [
            ["glands swollen", "Swollen - see Swelling, glands", "gland swollen"],
            ["adenopathy", "", "adenopathi"],
        ]
    }


def test_index_terms_the_title_already_holds_are_not_kept_to_explain_a_hit():
    record = billable_record(
        CodeSystem.ICD10CM,
        "K22.0",
        "Achalasia of cardia",
        lay_terms=["achalasia", "cardia achalasia", "achalasia of cardia", "cardiospasm"],
        lay_paths={"cardiospasm": "Cardiospasm - see Achalasia"},
    )
    # the first three add no word to the title's: they could never explain more than it does
    assert elastic.document("ICD10CM", record)["explain"] == {
        "terms": [["cardiospasm", "Cardiospasm - see Achalasia", "cardiospasm"]]
    }
    assert (
        embedded._document("ICD10CM", record).get_first("explain")
        == "cardiospasm\x1fCardiospasm - see Achalasia\x1fcardiospasm"
    )
    assert list(FlatExplain("a b\x1f\x1fa b\x1fc\x1fC - see A\x1fc")) == [
        ("a b", "", "a b"),
        ("c", "C - see A", "c"),
    ]
    record.lay_terms = record.lay_terms[:3]
    assert embedded._document("ICD10CM", record).get_first("explain") is None
    with pytest.raises(ValueError, match="malformed flat explain"):
        list(FlatExplain("a b\x1f"))


def test_the_explain_field_is_stored_not_searched(tmp_path):
    record = CodeRecord(
        system=CodeSystem.ICD10CM,
        code="R59.9",
        title="Enlarged lymph nodes, unspecified",
        billable=True,
        lay_terms=["glands swollen"],
        lay_paths={"glands swollen": "Swollen - see Swelling, glands"},
    )
    assert embedded._no_tokens().analyze("glands swollen\x1fSwollen - see Swelling") == []
    backend = embedded.EmbeddedBackend(tmp_path)
    backend.replace_system("ICD10CM", "ed1", [record])
    searcher = backend._searcher
    assert searcher is not None and searcher.doc_freq("explain", "swollen") == 0
    # read back with the hit, it explains the match
    (hit,) = backend.search(SearchRequest(query="swollen glands"))["hits"]
    assert hit["highlight"] == (
        "Enlarged lymph nodes, unspecified — <mark>glands</mark> <mark>swollen</mark> (Swollen - see Swelling, glands)"
    )
    backend.close()


def test_highlight_memoises_words_per_search_and_escapes_between_them():
    plan = make_plan(SearchRequest(query="femur fracture"))
    marker = _Marker(plan)
    assert _marked('Fracture of "femur" & fracture <b>', marker) == (
        "<mark>Fracture</mark> of &quot;<mark>femur</mark>&quot; &amp; <mark>fracture</mark> &lt;b&gt;",
        {"femur", "fractur"},
    )
    assert marker.seen["Fracture"] == frozenset({"fractur"}) and marker.seen["of"] is None
    # the cut of a text is shared between searches (cached): marking one search's words leaves
    # it as it was for the next
    other = _Marker(make_plan(SearchRequest(query="hip")))
    assert _marked('Fracture of "femur" & fracture <b>', other) == (
        "Fracture of &quot;femur&quot; &amp; fracture &lt;b&gt;",
        set(),
    )
