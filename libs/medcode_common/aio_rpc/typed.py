"""`invoke`: the one way the gateway and the mail ingress call a service. The method is declared once in
medcode_contracts.rpc (service, name, request model, reply type); this checks the
request before it leaves (BadRequest naming the field, no RPC), sends it as JSON with
the request's timeout, and validates the reply, item count included for batches."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from medcode_common.rpc import parse_request
from medcode_contracts.common import NoArguments
from medcode_contracts.errors import first_error
from medcode_contracts.rpc import RpcMethod

RequestT = TypeVar("RequestT", bound=BaseModel)
ReplyT = TypeVar("ReplyT")


class BadReply(RuntimeError):
    """A service answered something its contract does not allow (a bug there)."""


async def invoke(
    rpc: Any,
    method: RpcMethod[RequestT, ReplyT],
    request: RequestT | dict[str, Any],
    *,
    timeout: float | None = None,
    op: str | None = None,
) -> ReplyT:
    """`method(request)` through `rpc` (RpcClient, or FakeRpc in tests). `request` is the
    method's request model, or a dict of its fields validated here like the service would."""
    if isinstance(request, dict):
        request = method.parse(request) if method.parse is not None else parse_request(method.request, request)
    elif type(request) is not method.request:
        raise TypeError(f"{method.target} takes a {method.request.__name__}, not a {type(request).__name__}")
    arguments = {} if method.request is NoArguments else {"request": request.model_dump(mode="json")}
    answer = await rpc.call(method.service, method.name, timeout=timeout, op=op, **arguments)
    check_batch_reply(method, request, answer)
    try:
        return method.parse_reply(answer)
    except ValidationError as exc:
        raise BadReply(f"{method.target} answered outside its contract at {first_error(exc, 'reply')}") from None


def check_batch_reply(method: RpcMethod, request: BaseModel, answer: Any, answered_by: str | None = None) -> None:
    """BadReply unless `answer` has one item per item of `request`'s batch field (no check
    for a method without one). `answered_by`: the call that carried it, when not `method`
    itself (a batch twin, medcode_common.aio_rpc.coalescing)."""
    expected = method.batch_size(request)
    if expected is not None and (not isinstance(answer, list) or len(answer) != expected):
        got = len(answer) if isinstance(answer, list) else type(answer).__name__
        raise BadReply(f"{answered_by or method.target} answered {got} items for {expected} {method.batch}")
