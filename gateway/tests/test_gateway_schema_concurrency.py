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


async def test_the_same_query_is_validated_once_not_per_request():
    """Per-request extensions must still share the validation cache (keyed by the rule
    classes, which therefore must be the same objects on every request)."""
    from strawberry.extensions.validation_cache import _get_validate_cache

    schema = build_schema()
    cache = _get_validate_cache(256)
    query = "{ __typename }"
    await schema.execute(query, context_value=Context(rpc=SlowRpc()))
    before = cache.cache_info()
    for _ in range(5):
        result = await schema.execute(query, context_value=Context(rpc=SlowRpc()))
        assert result.errors is None
    after = cache.cache_info()
    assert after.hits - before.hits == 5 and after.misses == before.misses
