"""End to end through the gateway's HTTP endpoint: real services, real broker, real data
(the stack fixture of tests/conftest.py)."""

from __future__ import annotations

import csv

import httpx
import pytest

from medcode_contracts.services import ALL_SERVICES

pytestmark = pytest.mark.rabbit

SEARCH = """query($q: String!, $first: Int, $after: String) {
  searchCodes(query: $q, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } facets { system count }
    edges { cursor node { system code title billable } } } }"""


def errors_of(body: dict) -> list[tuple[str, str]]:
    return [(e["extensions"]["code"], e["message"]) for e in body.get("errors", [])]


def test_ready_when_every_service_answers(stack):
    response = httpx.get(f"{stack.url}/readyz", timeout=10)
    assert response.status_code == 200
    assert response.json()["services"] == {name: "ok" for name in ALL_SERVICES}
    assert httpx.get(f"{stack.url}/healthz", timeout=10).status_code == 200


def test_graphiql_is_served_to_browsers(stack):
    response = httpx.get(f"{stack.url}/graphql", headers={"Accept": "text/html"}, timeout=10)
    assert response.status_code == 200 and "graphiql" in response.text.lower()


def test_search_achalasia(code_sets):
    body = code_sets.graphql(SEARCH, {"q": "achalasia"})
    assert "errors" not in body, body
    result = body["data"]["searchCodes"]
    assert "K22.0" in [edge["node"]["code"] for edge in result["edges"][:3]]
    assert result["totalCount"] >= 1
    assert {facet["system"] for facet in result["facets"]} >= {"ICD10CM"}


def test_search_pages_with_the_cursor(code_sets):
    first = code_sets.graphql(SEARCH, {"q": "fracture", "first": 2})["data"]["searchCodes"]
    assert first["pageInfo"]["hasNextPage"] is True
    second = code_sets.graphql(SEARCH, {"q": "fracture", "first": 2, "after": first["pageInfo"]["endCursor"]})
    codes_one = [e["node"]["code"] for e in first["edges"]]
    codes_two = [e["node"]["code"] for e in second["data"]["searchCodes"]["edges"]]
    assert len(codes_two) == 2 and not set(codes_one) & set(codes_two)


def official_hcpcs_descriptor(data_mirror, code: str) -> str:
    with open(data_mirror / "hcpcs" / "HCPC2025_OCT_ANWEB.csv", newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            if row["HCPC"].strip() == code:
                return row["LONG DESCRIPTION"]
    raise AssertionError(f"{code} is not in the mirror's HCPCS file")


def test_hcpcs_code_page_has_the_official_descriptor(code_sets, data_mirror):
    body = code_sets.graphql(
        '{ code(system: HCPCS, code: "J9035") { system code title billable '
        "edition { name effectiveFrom source } access { granted remaining limit } } }"
    )
    assert "errors" not in body, body
    page = body["data"]["code"]
    assert page["code"] == "J9035" and page["system"] == "HCPCS"
    assert page["title"] == official_hcpcs_descriptor(data_mirror, "J9035")
    # A new guest (no cookie): its one free page view (metering: tests/e2e/test_e2e_accounts.py).
    assert page["access"] == {"granted": True, "remaining": 0, "limit": 1}
    assert len(page["edition"]["effectiveFrom"]) == 10  # an ISO date


def test_icd10cm_code_in_any_case_without_the_dot(code_sets):
    body = code_sets.graphql(
        '{ code(system: ICD10CM, code: "k220") { code title billable parent { code } notes { inclusionTerms } } }'
    )
    assert "errors" not in body, body
    page = body["data"]["code"]
    assert page["code"] == "K22.0"
    assert "achalasia" in page["title"].lower()
    assert page["parent"]["code"] == "K22"


def test_unknown_code_is_null(code_sets):
    body = code_sets.graphql('{ code(system: ICD10CM, code: "Q99.9999") { code } }')
    assert body == {"data": {"code": None}}


def test_aliased_code_fields_make_one_rpc(code_sets):
    # Codes no other test opens: the gateway keeps pages it has fetched (gateway.edition_cache).
    before = code_sets.rpc_calls("codes.get_codes")
    body = code_sets.graphql(
        '{ a: code(system: ICD10CM, code: "K22.2") { code } b: code(system: HCPCS, code: "J9045") { code } }'
    )
    assert body == {"data": {"a": {"code": "K22.2"}, "b": {"code": "J9045"}}}
    assert code_sets.rpc_calls("codes.get_codes") == before + 1


@pytest.mark.parametrize(
    "variables, message",
    [
        ({"q": ""}, "query must not be empty"),
        ({"q": "   "}, "query must not be empty"),
        ({"q": "achalasia", "first": 0}, "first must be between 1 and 100"),
        ({"q": "achalasia", "first": 101}, "first must be between 1 and 100"),
        ({"q": "achalasia", "after": "not-a-cursor"}, "not a valid cursor"),
        ({"q": "achalasia", "after": "!!"}, "not a valid cursor"),
    ],
)
def test_bad_input(stack, variables, message):
    body = stack.graphql(SEARCH, variables)
    assert body["data"] is None
    [(code, text)] = errors_of(body)
    assert code == "BAD_USER_INPUT"
    assert message in text


def test_not_ready_while_a_service_is_down(stack):
    with stack.down("careers"):
        response = httpx.get(f"{stack.url}/readyz", timeout=30)
        assert response.status_code == 503
        assert response.json()["not_ready"] == ["careers"]
    assert httpx.get(f"{stack.url}/readyz", timeout=10).status_code == 200


def test_codes_down_gives_unavailable_not_a_hang(stack):
    stack.graphql(SEARCH, {"q": "achalasia"})  # cached by the gateway before the outage
    page = '{ code(system: HCPCS, code: "J9035") { code } }'
    cached_page = stack.graphql(page)  # so is this page
    with stack.down("codes"):
        # A search nobody asked before must reach the service: a clear error, in time.
        body = stack.graphql(SEARCH, {"q": "achalasia outage probe"})
        assert body["data"] is None
        [(code, message)] = errors_of(body)
        assert code == "UNAVAILABLE"
        assert "codes service did not answer" in message

        # So must a page nobody asked before; one asked before comes from the cache.
        body = stack.graphql('{ code(system: HCPCS, code: "J9041") { code } }')
        assert body["data"] == {"code": None}
        assert [code for code, _ in errors_of(body)] == ["UNAVAILABLE"]
        assert stack.graphql(page) == cached_page == {"data": {"code": {"code": "J9035"}}}

        # A repeated search is still answered from the gateway's cache.
        body = stack.graphql(SEARCH, {"q": "achalasia"})
        assert not errors_of(body) and body["data"]["searchCodes"]["totalCount"] > 0


def test_concurrent_searches_are_coalesced_and_each_gets_its_own_answer(code_sets):
    """Searches that reach the gateway together go to codes as search_codes_many calls;
    each answer is what codes' search_codes gives for that search alone, a refused one too."""
    import asyncio

    from gateway.rpc import RpcClient
    from medcode_contracts.errors import BadRequest

    words = ["achalasia", "heart failure", "femur fracture", "diabetes", "pneumonia", "asthma", "gout", "migraine"]

    async def alone(rounds: list[list[dict]]) -> list[list]:
        async with RpcClient(code_sets.env["AMQP_URI"], timeout=10, caller="e2e") as rpc:
            answers: list[list] = []
            for searches in rounds:
                answers.append([])
                for search in searches:
                    try:
                        answers[-1].append(await rpc.call("codes", "search_codes", request=search))
                    except BadRequest as refused:
                        answers[-1].append(refused)
            return answers

    async def together(searches: list[dict]) -> list[dict]:
        async with httpx.AsyncClient(base_url=code_sets.url, timeout=30) as client:
            answers = await asyncio.gather(
                *(
                    client.post("/graphql", json={"query": SEARCH, "variables": {"q": s["query"], **s["vars"]}})
                    for s in searches
                )
            )
        return [a.json() for a in answers]

    sent: list[list[dict]] = []
    answered: list[list[dict]] = []
    before = code_sets.rpc_calls("codes.search_codes_many")
    for round_number in range(6):  # until the requests once arrive in one turn of the gateway's loop
        searches = [{"query": f"{w} coalesced {round_number}", "vars": {"first": 3}} for w in words]
        searches[3]["vars"]["after"] = "bogus-cursor"  # refused by codes, for this search alone
        sent.append(searches)
        answered.append(asyncio.run(together(searches)))
        if code_sets.rpc_calls("codes.search_codes_many") > before:
            break
    assert code_sets.rpc_calls("codes.search_codes_many") > before, "no search was ever coalesced"
    direct = asyncio.run(alone([[{"query": s["query"], **s["vars"]} for s in searches] for searches in sent]))
    for graphql, results in zip(answered, direct, strict=True):
        for body, result in zip(graphql, results, strict=True):
            if isinstance(result, BadRequest):
                assert errors_of(body) == [("BAD_USER_INPUT", str(result))], body
                continue
            assert "errors" not in body, body
            got = body["data"]["searchCodes"]
            assert got["totalCount"] == result["total_count"]
            assert [e["node"]["code"] for e in got["edges"]] == [h["node"]["code"] for h in result["hits"]]
