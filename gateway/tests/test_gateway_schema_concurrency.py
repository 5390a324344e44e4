"""Concurrent requests never see each other's execution: each gets its own result and its
own error codes (extensions must be per request, not shared instances)."""

import asyncio
import random

from gateway.context import Context
from gateway.schema import build_schema
from medcode_contracts.errors import Unavailable


class SlowRpc:
    """Answers get_codes after a random pause; fails for codes starting with X."""

    async def call(self, service, method, *, request=None, **kwargs):
        await asyncio.sleep(random.random() / 100)
        ref = request["refs"][0]
        if ref["code"].startswith("X"):
            raise Unavailable(f"no answer for {ref['code']}")
        return [
            {
                "system": ref["system"],
                "code": ref["code"],
                "title": f"Made-up title {ref['code']}",
                "billable": True,
                "edition": {"name": "Made-up", "effective_from": "2025-10-01", "source": "x"},
            }
        ]


async def test_forty_interleaved_requests_keep_their_own_results_and_error_codes():
    schema = build_schema()
    codes = [f"{'X' if n % 2 else 'K'}{n:02d}.0" for n in range(40)]

    async def one(code):
        result = await schema.execute(
            "query($c: String!) { code(system: ICD10CM, code: $c) { code title } }",
            variable_values={"c": code},
            context_value=Context(rpc=SlowRpc()),
        )
        return code, result

    for code, result in await asyncio.gather(*(one(code) for code in codes)):
        if code.startswith("X"):
            assert [e.extensions for e in result.errors] == [{"code": "UNAVAILABLE"}], code
            assert result.errors[0].message == f"no answer for {code.replace('.', '')}"
        else:
            assert result.errors is None
            assert result.data["code"]["code"] == code.replace(".", "")  # the fake echoes the key


def count_validations(monkeypatch) -> list[str]:
    """The query texts Strawberry validates from now on."""
    import strawberry.schema.schema as strawberry_schema

    validated: list[str] = []
    validate = strawberry_schema.validate_document

    def counting(schema, document, rules):
        validated.append(document.loc.source.body)
        return validate(schema, document, rules)

    monkeypatch.setattr(strawberry_schema, "validate_document", counting)
    return validated


async def test_the_same_query_is_parsed_and_validated_once_not_per_request(monkeypatch):
    """Per-request extensions must still share the document cache (keyed by the rule
    classes, which therefore must be the same objects on every request)."""
    schema = build_schema()
    validated = count_validations(monkeypatch)
    query = "{ __typename }"
    for _ in range(6):
        result = await schema.execute(query, context_value=Context(rpc=SlowRpc()))
        assert result.errors is None and result.data == {"__typename": "Query"}
    assert validated.count(query) <= 1  # once, or never when an earlier test validated it already


async def test_an_invalid_query_is_refused_every_time_and_a_broken_one_is_not_kept(monkeypatch):
    schema = build_schema()
    validated = count_validations(monkeypatch)
    invalid = "{ code(system: ICD10CM, code: 1) { nope } }"
    for _ in range(3):
        result = await schema.execute(invalid, context_value=Context(rpc=SlowRpc()))
        assert result.data is None and len(result.errors) == 2
        assert {e.extensions["code"] for e in result.errors} == {"GRAPHQL_VALIDATION_FAILED"}
    assert validated.count(invalid) == 1
    for _ in range(2):
        result = await schema.execute("{ code(", context_value=Context(rpc=SlowRpc()))
        assert result.data is None and "Syntax Error" in result.errors[0].message


async def test_a_query_valid_under_one_schema_is_checked_again_under_another():
    query = "{ __schema { queryType { name } } }"
    open_schema, closed_schema = build_schema(), build_schema(introspection=False)
    assert (await open_schema.execute(query, context_value=Context(rpc=SlowRpc()))).errors is None
    refused = await closed_schema.execute(query, context_value=Context(rpc=SlowRpc()))
    assert refused.data is None and "introspection" in refused.errors[0].message.lower()
