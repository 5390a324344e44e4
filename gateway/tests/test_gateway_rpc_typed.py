"""`invoke` (medcode_common.aio_rpc.typed) with a fake RPC client: the request is checked before it
leaves, the reply against the method's declared type, batches by their length."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.rpc import BadReply, invoke
from gateway.testing import FakeRpc
from medcode_contracts import codes, metering
from medcode_contracts.common import Health, NoArguments
from medcode_contracts.errors import BadRequest
from medcode_contracts.rpc import HEALTH_OF, Codes, Metering

DECISION = {"resource": "ICD10CM:K22.0", "granted": True, "remaining": 0, "limit": 1, "reason": None}


class TimedFakeRpc(FakeRpc):
    def __init__(self, answers):
        super().__init__(answers)
        self.timeouts: list = []

    async def call(self, service, method, *, timeout=None, context=None, op=None, **kwargs):
        self.timeouts.append((timeout, op))
        return await super().call(service, method, **kwargs)


async def test_a_model_request_goes_as_json_and_the_reply_comes_back_typed():
    rpc = TimedFakeRpc({"metering.check_views": [DECISION]})
    request = metering.CheckViewsRequest(subject="g", plan="GUEST", resources=["ICD10CM:K22.0"])
    [decision] = await invoke(rpc, Metering.CHECK_VIEWS, request, timeout=3.0, op="code.access")
    assert isinstance(decision, metering.ViewDecision) and decision.granted is True
    assert rpc.sent("metering.check_views") == [request.model_dump(mode="json")]
    assert rpc.timeouts == [(3.0, "code.access")]


async def test_a_dict_request_is_checked_here_and_a_bad_one_costs_no_rpc():
    rpc = FakeRpc({})
    with pytest.raises(BadRequest, match="^refs"):
        await invoke(rpc, Codes.GET_CODES, {"refs": [{"system": "NOPE", "code": "K22.0"}]})
    assert rpc.requests == []


async def test_the_wrong_request_model_is_a_programming_error():
    with pytest.raises(TypeError, match="takes a GetCodesRequest"):
        await invoke(FakeRpc({}), Codes.GET_CODES, metering.MeterRequest(subject="g", plan="GUEST"))


@pytest.mark.parametrize("answer", [[], [None, None], None, {"0": None}])
async def test_a_batch_reply_of_the_wrong_length_is_refused(answer):
    rpc = FakeRpc({"codes.get_codes": answer})
    request = codes.GetCodesRequest(refs=[codes.CodeRef(system="ICD10CM", code="K220")])
    with pytest.raises(BadReply, match="codes.get_codes answered .* for 1 refs"):
        await invoke(rpc, Codes.GET_CODES, request)


async def test_a_reply_outside_the_contract_is_refused():
    rpc = FakeRpc({"codes.get_modifier": {"code": "LT"}})
    with pytest.raises(BadReply, match="codes.get_modifier answered outside its contract at title: Field required"):
        await invoke(rpc, Codes.GET_MODIFIER, {"code": "LT"})
    assert await invoke(FakeRpc({"codes.get_modifier": None}), Codes.GET_MODIFIER, {"code": "LT"}) is None


async def test_the_context_applies_the_requests_timeout_unless_told_otherwise():
    from gateway.context import Context

    rpc = TimedFakeRpc({"codes.get_modifier": None})
    context = Context(rpc=rpc, rpc_timeout=2.0)
    await context.invoke(Codes.GET_MODIFIER, {"code": "LT"}, op="modifier")
    await context.invoke(Codes.GET_MODIFIER, {"code": "LT"}, op="ask", timeout=30.0)
    assert rpc.timeouts == [(2.0, "modifier"), (30.0, "ask")]


def test_batch_limits_come_from_the_request_models():
    from medcode_contracts import careers, coding_rules
    from medcode_contracts.rpc import Careers

    assert Codes.GET_CODES.max_batch_size == 200
    assert Codes.GET_CODE_RULES.max_batch_size == 200
    assert Metering.CHECK_VIEWS.max_batch_size == metering.MAX_RESOURCES
    assert Careers.GET_JOBS.max_batch_size == careers.MAX_PAGE_SIZE
    assert Codes.GET_MODIFIER.max_batch_size is None  # not a batch
    with pytest.raises(ValidationError):  # one past the limit is what the service would refuse
        coding_rules.GetCodeRulesRequest(refs=[codes.CodeRef(system="HCPCS", code="J9035")] * 201)


async def test_health_takes_no_arguments_on_the_wire_and_answers_a_typed_health():
    rpc = FakeRpc({"codes.health": {"service": "codes", "status": "ok", "details": {"ICD10CM": "FY2026"}}})
    health = await invoke(rpc, HEALTH_OF["codes"], NoArguments(), timeout=1.0, op="readyz")
    assert isinstance(health, Health) and health.status == "ok"
    assert rpc.requests == [("codes.health", {})]  # `health()`: what every service (old or new) takes
    with pytest.raises(BadReply, match="codes.health answered outside its contract"):
        await invoke(FakeRpc({"codes.health": {"status": "ok"}}), HEALTH_OF["codes"], NoArguments())
