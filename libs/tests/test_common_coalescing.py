"""Calls of concurrent requests sent as one batch call (medcode_common.aio_rpc.coalescing),
over a fake RPC client that answers at once, as the codes service would."""

from __future__ import annotations

import asyncio

import pytest

from gateway.testing import RequestFakeRpc
from medcode_common.aio_rpc.coalescing import Coalescing
from medcode_common.rpc import answer_each
from medcode_contracts import codes
from medcode_contracts.errors import BadRequest, Unavailable
from medcode_contracts.rpc import Codes

COALESCED = {Codes.SEARCH_CODES: Codes.SEARCH_CODES_MANY}


def result_for(query: str) -> dict:
    return {
        "total_count": 1,
        "hits": [
            {
                "cursor": "c1",
                "score": 1.0,
                "highlight": None,
                "node": {"system": "ICD10CM", "code": "K22.0", "title": f"title for {query}", "billable": True},
            }
        ],
        "has_next_page": False,
        "end_cursor": "c1",
        "facets": [{"system": "ICD10CM", "count": 1}],
    }


def search_one(request: dict) -> dict:
    if request.get("after") == "bad":
        raise BadRequest("after is not a cursor this service wrote")
    return result_for(request["query"])


def search_many(request: dict) -> list:
    return answer_each(request["searches"], search_one)  # as the codes service answers


def fake_codes() -> RequestFakeRpc:
    return RequestFakeRpc({"codes.search_codes": search_one, "codes.search_codes_many": search_many})


def search(query: str, after: str | None = None) -> codes.SearchRequest:
    return codes.SearchRequest(query=query, first=5, after=after)


async def test_searches_of_one_turn_go_as_one_batch_each_with_its_own_answer():
    rpc, coalescing = fake_codes(), Coalescing(COALESCED)
    queries = [f"query {n}" for n in range(5)]
    answers = await asyncio.gather(
        *(coalescing.invoke(rpc, Codes.SEARCH_CODES, search(q), timeout=2.0, op="searchCodes") for q in queries)
    )
    assert rpc.calls == {"codes.search_codes_many": 1}
    assert [s["query"] for s in rpc.sent("codes.search_codes_many")[0]["searches"]] == queries  # in order
    assert answers == [codes.SearchResult.model_validate(result_for(q)) for q in queries]


async def test_a_search_alone_in_its_turn_goes_as_the_plain_call():
    rpc, coalescing = fake_codes(), Coalescing(COALESCED)
    for n in range(3):  # one after another: never two in a turn
        answer = await coalescing.invoke(rpc, Codes.SEARCH_CODES, search(f"q{n}"), timeout=2.0)
        assert answer == codes.SearchResult.model_validate(result_for(f"q{n}"))
    assert rpc.calls == {"codes.search_codes": 3}
    assert coalescing.coalescers[Codes.SEARCH_CODES].sent == {1: 3}


async def test_one_searchs_error_fails_no_other():
    rpc, coalescing = fake_codes(), Coalescing(COALESCED)
    answers = await asyncio.gather(
        coalescing.invoke(rpc, Codes.SEARCH_CODES, search("good"), timeout=2.0),
        coalescing.invoke(rpc, Codes.SEARCH_CODES, search("cursor", after="bad"), timeout=2.0),
        coalescing.invoke(rpc, Codes.SEARCH_CODES, search("also good"), timeout=2.0),
        return_exceptions=True,
    )
    assert rpc.calls == {"codes.search_codes_many": 1}
    good, refused, also_good = answers
    assert isinstance(refused, BadRequest) and str(refused) == "after is not a cursor this service wrote"
    assert good.hits[0].node.title == "title for good" and also_good.hits[0].node.title == "title for also good"


async def test_a_turn_with_more_searches_than_one_call_carries_sends_several():
    rpc, coalescing = fake_codes(), Coalescing(COALESCED)
    count = codes.MAX_SEARCHES_PER_CALL + 3
    answers = await asyncio.gather(
        *(coalescing.invoke(rpc, Codes.SEARCH_CODES, search(f"q{n}"), timeout=2.0) for n in range(count))
    )
    assert [len(r["searches"]) for r in rpc.sent("codes.search_codes_many")] == [codes.MAX_SEARCHES_PER_CALL, 3]
    assert [a.hits[0].node.title for a in answers] == [f"title for q{n}" for n in range(count)]


async def test_a_failed_batch_call_fails_each_caller_and_the_next_turn_starts_afresh():
    rpc, coalescing = fake_codes(), Coalescing(COALESCED)
    rpc.answers["codes.search_codes_many"] = Unavailable("codes did not answer in time")
    failed = await asyncio.gather(
        *(coalescing.invoke(rpc, Codes.SEARCH_CODES, search(f"q{n}"), timeout=2.0) for n in range(3)),
        return_exceptions=True,
    )
    assert all(isinstance(f, Unavailable) for f in failed)
    rpc.answers.update(fake_codes().answers)  # codes answers again
    again = await asyncio.gather(
        *(coalescing.invoke(rpc, Codes.SEARCH_CODES, search(f"q{n}"), timeout=2.0) for n in range(2))
    )
    assert [a.hits[0].node.title for a in again] == ["title for q0", "title for q1"]


async def test_a_caller_cancelled_before_the_call_leaves_it_and_the_others_are_answered():
    rpc, coalescing = fake_codes(), Coalescing(COALESCED)
    gone = asyncio.ensure_future(coalescing.invoke(rpc, Codes.SEARCH_CODES, search("gone"), timeout=2.0))
    kept = [asyncio.ensure_future(coalescing.invoke(rpc, Codes.SEARCH_CODES, search(q), timeout=2.0)) for q in "ab"]
    await asyncio.sleep(0)  # every caller is waiting for the turn to end...
    gone.cancel()  # ...when this one's client goes away
    answers = await asyncio.gather(*kept)
    assert [s["query"] for s in rpc.sent("codes.search_codes_many")[0]["searches"]] == ["a", "b"]
    assert [a.hits[0].node.title for a in answers] == ["title for a", "title for b"]
    with pytest.raises(asyncio.CancelledError):
        await gone


async def test_a_batch_waits_no_longer_than_its_most_hurried_caller():
    seen: list = []

    class Recording(RequestFakeRpc):
        async def call(self, service, method, *, timeout=None, **kwargs):
            seen.append((method, timeout))
            return await super().call(service, method, timeout=timeout, **kwargs)

    rpc = Recording({"codes.search_codes": search_one, "codes.search_codes_many": search_many})
    coalescing = Coalescing(COALESCED)
    await asyncio.gather(
        coalescing.invoke(rpc, Codes.SEARCH_CODES, search("slow"), timeout=5.0),
        coalescing.invoke(rpc, Codes.SEARCH_CODES, search("hurried"), timeout=1.5),
    )
    assert seen == [("search_codes_many", 1.5)]


async def test_other_methods_and_dict_requests_are_not_coalesced():
    rpc, coalescing = fake_codes(), Coalescing(COALESCED)
    await asyncio.gather(
        *(coalescing.invoke(rpc, Codes.SEARCH_CODES, {"query": f"q{n}"}, timeout=2.0) for n in range(2))
    )
    assert rpc.calls == {"codes.search_codes": 2}  # a dict is checked by the plain call's own path


async def test_a_batch_reply_that_answers_a_check_with_the_wrong_count_is_that_calls_bad_reply():
    from medcode_common.aio_rpc.typed import BadReply
    from medcode_contracts import metering
    from medcode_contracts.rpc import Metering

    def decide(resource: str) -> dict:
        return {"resource": resource, "granted": True, "remaining": None, "limit": None, "reason": None}

    def many(request: dict) -> list:  # the second check's second resource is left out
        return [
            {"result": [decide(r) for r in c["resources"]][: 1 if i else None]} for i, c in enumerate(request["checks"])
        ]

    rpc = RequestFakeRpc({"metering.check_views_many": many})
    coalescing = Coalescing({Metering.CHECK_VIEWS: Metering.CHECK_VIEWS_MANY})
    checks = [metering.CheckViewsRequest(subject=f"u{n}", plan="PRO", resources=["A:1", "A:2"]) for n in range(2)]
    good, bad = await asyncio.gather(
        *(coalescing.invoke(rpc, Metering.CHECK_VIEWS, check, timeout=2.0) for check in checks), return_exceptions=True
    )
    assert [d.resource for d in good] == ["A:1", "A:2"]
    assert isinstance(bad, BadReply) and "1 items for 2 resources" in str(bad)
