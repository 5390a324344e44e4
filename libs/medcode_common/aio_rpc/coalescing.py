"""Calls of one RPC from concurrent requests, sent as one batch call.

Under load most of what one search costs is per message, not the search itself: the
caller's publish and reply, the broker's routing, the service's worker. So a call of a
method declared with a batch twin (`codes.search_codes` and `search_codes_many`) waits for
the rest of the event loop's current turn, and the calls that came in that turn go as
one batch call, each answered with its own result or its own error (a bad cursor in one
search fails no other). A call alone in its turn goes as the plain call: a lone client
(c=1) travels exactly as before, with no wait beyond one turn of the loop.

The batch call is made in a span of its own, a child of the first caller's span with a
link to every caller's (so each request's trace leads to the service's work), and waits
no longer than the shortest timeout among its callers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from pydantic import BaseModel

from medcode_contracts.rpc import RpcMethod

from .errors import deserialize
from .typed import BadReply, check_batch_reply, invoke

log = logging.getLogger(__name__)
_TRACER = trace.get_tracer(__name__)


@dataclass
class _Waiting:
    rpc: Any
    request: BaseModel
    future: asyncio.Future
    timeout: float | None
    op: str | None
    span: trace.SpanContext  # the caller's, for the batch span's links


class Coalescer:
    """Calls of `single` (RequestT -> ReplyT) that share a turn of the loop go as one call
    of `many`, whose request's batch field lists their requests and whose reply answers
    each with `{result, error}` (medcode_contracts.common.ItemError)."""

    def __init__(self, single: RpcMethod, many: RpcMethod):
        if many.batch is None or many.max_batch_size is None:
            raise TypeError(f"{many.target} declares no bounded batch field")
        self.single = single
        self.many = many
        self.batch_field: str = many.batch
        self.max_batch_size: int = many.max_batch_size
        self._waiting: list[_Waiting] = []
        self._sending: set[asyncio.Task] = set()
        self.sent: Counter[int] = Counter()  # calls sent, by how many requests each carried

    async def call(self, rpc: Any, request: BaseModel, *, timeout: float | None, op: str | None) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        caller = trace.get_current_span().get_span_context()
        self._waiting.append(_Waiting(rpc, request, future, timeout, op, caller))
        if len(self._waiting) == 1:
            loop.call_soon(self._flush)  # after every callback of this turn: the calls they make join
        return await future

    def _flush(self) -> None:
        waiting, self._waiting = self._waiting, []
        live = [w for w in waiting if not w.future.done()]  # a caller cancelled meanwhile sends nothing
        for start in range(0, len(live), self.max_batch_size):
            task = asyncio.ensure_future(self._send(live[start : start + self.max_batch_size]))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, part: list[_Waiting]) -> None:
        self.sent[len(part)] += 1
        try:
            if len(part) == 1:
                one = part[0]
                reply = await invoke(one.rpc, self.single, one.request, timeout=one.timeout, op=one.op)
                _settle(one.future, result=reply)
                return
            timeouts = [w.timeout for w in part if w.timeout is not None]
            request = self.many.request(**{self.batch_field: [w.request for w in part]})
            links = [trace.Link(w.span, {"coalesced.index": i}) for i, w in enumerate(part) if w.span.is_valid]
            with _TRACER.start_as_current_span(
                self.many.target, kind=trace.SpanKind.CLIENT, links=links, attributes={"coalesced.calls": len(part)}
            ):
                outcomes = await invoke(
                    part[0].rpc, self.many, request, timeout=min(timeouts) if timeouts else None, op=part[0].op
                )
        except asyncio.CancelledError:
            for w in part:
                w.future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - the call failed as a whole: each caller gets its error
            for w in part:
                _settle(w.future, error=exc)
            return
        for w, outcome in zip(part, outcomes, strict=True):
            if outcome.error is not None:
                _settle(w.future, error=deserialize(outcome.error.model_dump()))
                continue
            try:  # check_views answers each resource
                check_batch_reply(self.single, w.request, outcome.result, answered_by=self.many.target)
            except BadReply as bad:
                _settle(w.future, error=bad)
            else:
                _settle(w.future, result=outcome.result)


def _settle(future: asyncio.Future, *, result: Any = None, error: BaseException | None = None) -> None:
    if future.done():  # its caller was cancelled (the client went away)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class Coalescing:
    """The process's coalescers, by the plain method they stand in for: `invoke` sends a
    call of such a method through its coalescer, any other call as it is."""

    def __init__(self, pairs: dict[RpcMethod, RpcMethod]):
        self.coalescers = {single: Coalescer(single, many) for single, many in pairs.items()}

    async def invoke(
        self,
        rpc: Any,
        method: RpcMethod,
        request: BaseModel | dict[str, Any],
        *,
        timeout: float | None = None,
        op: str | None = None,
    ) -> Any:
        coalescer = self.coalescers.get(method)
        if coalescer is None or not isinstance(request, method.request):
            return await invoke(rpc, method, request, timeout=timeout, op=op)
        return await coalescer.call(rpc, request, timeout=timeout, op=op)
