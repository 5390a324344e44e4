"""Resolver logic of searchCodes and code, with a fake RPC client (schema.execute).
Descriptors below are made up for the tests."""

from __future__ import annotations

from collections import Counter

import pytest

from gateway.context import Context
from gateway.schema import MAX_ALIASES, build_schema
from gateway.testing import FakeRpc
from medcode_common.aio_rpc import RemoteError
from medcode_contracts.errors import BadRequest, Unavailable

SEARCH_RESULT = {
    "total_count": 2,
    "hits": [
        {
            "cursor": "c1",
            "score": 9.5,
            "highlight": "<mark>Made-up</mark> achalasia title",
            "node": {"system": "ICD10CM", "code": "K22.0", "title": "Made-up achalasia title", "billable": True},
        },
        {
            "cursor": "c2",
            "score": 3.0,
            "highlight": None,
            "node": {"system": "ICD10PCS", "code": "0DB64ZZ", "title": "Made-up PCS title", "billable": True},
        },
    ],
    "has_next_page": True,
    "end_cursor": "c2",
    "facets": [{"system": "ICD10CM", "count": 1}, {"system": "ICD10PCS", "count": 1}],
}


def page(system: str, code: str, **extra) -> dict:
    return {
        "system": system,
        "code": code,
        "title": f"Made-up long title of {code}",
        "short_title": f"Made-up {code}",
        "billable": True,
        "edition": {"name": "Made-up edition 2026", "effective_from": "2025-10-01", "source": "made-up.xml"},
        "lay_terms": ["made-up lay term"],
        "notes": {
            "inclusion_terms": ["made-up inclusion"],
            "excludes1": ["made-up exclusion (X00)"],
            "seventh_characters": [{"character": "A", "meaning": "made-up initial encounter"}],
        },
        "parent": {"system": system, "code": code[:3], "title": "Made-up parent", "billable": False},
        "children": [],
        **extra,
    }


KNOWN = {("ICD10CM", "K220"): page("ICD10CM", "K22.0"), ("HCPCS", "J9035"): page("HCPCS", "J9035")}


def get_codes(kwargs):
    return [KNOWN.get((ref["system"], ref["code"])) for ref in kwargs["request"]["refs"]]


@pytest.fixture(scope="module")
def schema():
    return build_schema()


async def run(schema, query, rpc, variables=None):
    result = await schema.execute(query, variable_values=variables, context_value=Context(rpc=rpc))
    errors = [e.formatted for e in result.errors or []]
    return result.data, errors


SEARCH = """query($q: String!, $first: Int, $after: String, $systems: [CodeSystem!]) {
  searchCodes(query: $q, first: $first, after: $after, systems: $systems, billableOnly: true) {
    totalCount pageInfo { hasNextPage endCursor } facets { system count }
    edges { cursor score highlight node { system code title billable } } } }"""


async def test_search_maps_the_request_and_the_result(schema):
    rpc = FakeRpc({"codes.search_codes": SEARCH_RESULT})
    data, errors = await run(
        schema, SEARCH, rpc, {"q": "  achalasia ", "first": 2, "after": "c0", "systems": ["ICD10CM", "ICD10PCS"]}
    )
    assert errors == []
    assert rpc.requests == [
        (
            "codes.search_codes",
            {
                "request": {
                    "query": "achalasia",
                    "systems": ["ICD10CM", "ICD10PCS"],
                    "billable_only": True,
                    "first": 2,
                    "after": "c0",
                }
            },
        )
    ]
    result = data["searchCodes"]
    assert result["totalCount"] == 2
    assert result["pageInfo"] == {"hasNextPage": True, "endCursor": "c2"}
    assert result["facets"] == [{"system": "ICD10CM", "count": 1}, {"system": "ICD10PCS", "count": 1}]
    assert result["edges"][0] == {
        "cursor": "c1",
        "score": 9.5,
        "highlight": "<mark>Made-up</mark> achalasia title",
        "node": {"system": "ICD10CM", "code": "K22.0", "title": "Made-up achalasia title", "billable": True},
    }


async def test_search_defaults(schema):
    rpc = FakeRpc({"codes.search_codes": SEARCH_RESULT})
    _, errors = await run(schema, '{ searchCodes(query: "x") { totalCount } }', rpc)
    assert errors == []
    assert rpc.requests[0][1]["request"] == {
        "query": "x",
        "systems": None,
        "billable_only": False,
        "first": 20,
        "after": None,
    }


@pytest.mark.parametrize(
    "variables, message",
    [
        ({"q": ""}, "query must not be empty"),
        ({"q": "   "}, "query must not be empty"),
        ({"q": "x" * 300}, "query is too long"),
        ({"q": "x", "first": 0}, "first must be between 1 and 100 (got 0)"),
        ({"q": "x", "first": 101}, "first must be between 1 and 100 (got 101)"),
        ({"q": "x", "after": ""}, "after is not a valid cursor"),
        ({"q": "x", "after": "has spaces in it"}, "after is not a valid cursor"),
    ],
)
async def test_bad_search_arguments(schema, variables, message):
    rpc = FakeRpc({})
    data, errors = await run(schema, SEARCH, rpc, variables)
    assert data is None
    assert len(errors) == 1
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert message in errors[0]["message"]
    assert rpc.requests == []


@pytest.mark.parametrize(
    "raised, code, message",
    [
        (BadRequest("after: malformed cursor"), "BAD_USER_INPUT", "after: malformed cursor"),
        (
            Unavailable("the codes service did not answer search_codes within 5 s"),
            "UNAVAILABLE",
            "the codes service did not answer search_codes within 5 s",
        ),
        (RemoteError("KeyError", "'secret internals'"), "INTERNAL", "Unexpected error."),
        (ZeroDivisionError("boom"), "INTERNAL", "Unexpected error."),
    ],
)
async def test_service_errors_get_codes_and_unexpected_ones_are_masked(schema, raised, code, message):
    data, errors = await run(schema, SEARCH, FakeRpc({"codes.search_codes": raised}), {"q": "x"})
    assert data is None
    assert errors[0]["extensions"] == {"code": code}
    assert errors[0]["message"] == message
    assert errors[0]["path"] == ["searchCodes"]


CODE_PAGE_FIELDS = """system code title shortTitle billable
    edition { name effectiveFrom source } access { granted remaining limit reason }
    layTerms notes { inclusionTerms excludes1 seventhCharacters { character meaning } }
    parent { code } children { code }"""


async def test_code_page(schema):
    rpc = FakeRpc({"codes.get_codes": get_codes})
    data, errors = await run(schema, f'{{ code(system: ICD10CM, code: "k220") {{ {CODE_PAGE_FIELDS} }} }}', rpc)
    assert errors == []
    assert data["code"] == {
        "system": "ICD10CM",
        "code": "K22.0",
        "title": "Made-up long title of K22.0",
        "shortTitle": "Made-up K22.0",
        "billable": True,
        "edition": {"name": "Made-up edition 2026", "effectiveFrom": "2025-10-01", "source": "made-up.xml"},
        "access": {"granted": True, "remaining": None, "limit": None, "reason": None},
        "layTerms": ["made-up lay term"],
        "notes": {
            "inclusionTerms": ["made-up inclusion"],
            "excludes1": ["made-up exclusion (X00)"],
            "seventhCharacters": [{"character": "A", "meaning": "made-up initial encounter"}],
        },
        "parent": {"code": "K22"},
        "children": [],
    }


async def test_all_code_fields_of_a_request_make_one_rpc(schema):
    rpc = FakeRpc({"codes.get_codes": get_codes})
    data, errors = await run(
        schema,
        """{
      a: code(system: ICD10CM, code: "K22.0") { code }
      b: code(system: HCPCS, code: "j9035") { code title }
      c: code(system: ICD10CM, code: "k220") { code }
      missing: code(system: ICD10CM, code: "Q99.999") { code } }""",
        rpc,
    )
    assert errors == []
    assert data == {
        "a": {"code": "K22.0"},
        "b": {"code": "J9035", "title": "Made-up long title of J9035"},
        "c": {"code": "K22.0"},
        "missing": None,
    }
    assert rpc.calls == Counter({"codes.get_codes": 1})
    refs = rpc.requests[0][1]["request"]["refs"]
    assert refs == [
        {"system": "ICD10CM", "code": "K220"},
        {"system": "HCPCS", "code": "J9035"},
        {"system": "ICD10CM", "code": "Q99999"},
    ]


async def test_no_access_hides_the_premium_sections(schema, monkeypatch):
    from gateway.schema.codes import access
    from gateway.schema.codes.types import Access

    async def denied(context, page):
        return Access(granted=False, remaining=0, limit=3, reason="made-up: free views used up")

    monkeypatch.setattr(access, "check_access", denied)
    data, errors = await run(
        schema,
        f'{{ code(system: ICD10CM, code: "K22.0") {{ {CODE_PAGE_FIELDS} }} }}',
        FakeRpc({"codes.get_codes": get_codes}),
    )
    assert errors == []
    page_ = data["code"]
    assert page_["title"] == "Made-up long title of K22.0"
    assert page_["access"] == {"granted": False, "remaining": 0, "limit": 3, "reason": "made-up: free views used up"}
    assert page_["layTerms"] is page_["notes"] is page_["parent"] is page_["children"] is None


@pytest.mark.parametrize(
    "code, message", [("", "code must not be empty"), (" . ", "code must not be empty"), ("K" * 21, "code is too long")]
)
async def test_bad_code_argument(schema, code, message):
    rpc = FakeRpc({})
    data, errors = await run(
        schema, "query($c: String!) { code(system: ICD10CM, code: $c) { code } }", rpc, {"c": code}
    )
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"} and message in errors[0]["message"]
    assert rpc.requests == []


async def test_code_when_codes_is_down(schema):
    rpc = FakeRpc({"codes.get_codes": Unavailable("the codes service did not answer get_codes within 5 s")})
    data, errors = await run(schema, '{ code(system: HCPCS, code: "J9035") { code } }', rpc)
    assert data == {"code": None}
    assert errors[0]["extensions"] == {"code": "UNAVAILABLE"}


async def test_too_many_aliases_are_refused(schema):
    fields = " ".join(f'a{i}: code(system: ICD10CM, code: "K22.{i}") {{ code }}' for i in range(MAX_ALIASES + 1))
    rpc = FakeRpc({"codes.get_codes": get_codes})
    data, errors = await run(schema, "{ " + fields + " }", rpc)
    assert data is None and "aliases" in errors[0]["message"]
    assert rpc.requests == []


async def test_too_deep_queries_are_refused(schema):
    deep = '{ job(id: "1") { ' + "applications { job { " * 6 + "id" + " } }" * 6 + " } }"
    rpc = FakeRpc({})
    data, errors = await run(schema, deep, rpc)
    assert data is None and len(errors) == 1
    assert "exceeds maximum operation depth" in errors[0]["message"]


async def test_invalid_documents_get_a_code(schema):
    _, errors = await run(schema, '{ searchCodes(query: "x") { nope } }', FakeRpc({}))
    assert errors[0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert "nope" in errors[0]["message"]


async def test_a_page_of_a_new_edition_is_shown_not_the_one_built_before(schema):
    """CodePage objects are built once per contract page the edition cache holds: the
    next edition's page (another contract page, the cache cleared) is built anew."""
    from gateway.edition_cache import EditionCaches

    caches, editions = EditionCaches(), iter(("Made-up edition 2026", "Made-up edition 2027"))
    rpc = FakeRpc({"codes.get_codes": lambda kwargs: [page("ICD10CM", "K22.0", title=next(editions))]})
    query = '{ code(system: ICD10CM, code: "K22.0") { title } }'
    for expected in ("Made-up edition 2026", "Made-up edition 2026", "Made-up edition 2027"):
        if rpc.calls["codes.get_codes"] and expected.endswith("2027"):
            caches.clear({"schema": "codes.edition_loaded/1"})
        result = await schema.execute(query, context_value=Context(rpc=rpc, caches=caches))
        assert result.errors is None and result.data == {"code": {"title": expected}}
    assert rpc.calls["codes.get_codes"] == 2
