"""The RPC entrypoint every Nameko service of the platform uses instead of nameko's own:

    from medcode_common.nameko_rpc import rpc

    class CodesService:
        @rpc
        def get_code(self, request): ...

(A module of its own, apart from medcode_common.rpc, so the gateway's asyncio process never
imports Nameko and eventlet.)
"""
from __future__ import annotations

import logging
import time

from nameko.rpc import Rpc as _NamekoRpc

from .metrics import RPC_REQUEST_SECONDS, outcome

log = logging.getLogger(__name__)


class RequestKeepsFailing(Exception):
    """Answered instead of running a request whose handler took its worker down too often."""


class Rpc(_NamekoRpc):
    """`nameko.rpc.Rpc` that never lets one request spin. A handler that raises already
    answers the caller with the error and acknowledges the request (Nameko does that);
    what is left is a request whose handler kills the process (out of memory, a crash in
    a C extension) before it can answer: the broker would hand it to the next replica,
    forever. Quorum queues (production) count such deliveries in `x-delivery-count`;
    at EVENT_MAX_ATTEMPTS the request is answered with RequestKeepsFailing instead.

    It also times every request it answers (medcode_common.metrics.RPC_REQUEST_SECONDS)."""

    def setup(self):
        super().setup()
        from .dead_letters import load_settings

        self.max_deliveries = load_settings().EVENT_MAX_ATTEMPTS
        self._arrived: dict[int, float] = {}  # id(message) -> when it arrived, until it is answered

    def handle_message(self, body, message):
        self._arrived[id(message)] = time.perf_counter()
        try:
            self._handle_message(body, message)
        except BaseException:  # answered by nameko's consumer, not through handle_result
            self._arrived.pop(id(message), None)
            raise

    def handle_result(self, message, worker_ctx, result, exc_info):
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        finally:
            arrived = self._arrived.pop(id(message), None)
            if arrived is not None:
                RPC_REQUEST_SECONDS.labels(self.container.service_name, self.method_name,
                                           outcome(exc_info[1] if exc_info else None)).observe(
                    time.perf_counter() - arrived)

    def _handle_message(self, body, message):
        from .dead_letters import DELIVERY_COUNT

        delivered_before = int((message.headers or {}).get(DELIVERY_COUNT) or 0)
        if delivered_before >= self.max_deliveries:
            exc = RequestKeepsFailing(
                f"{self.container.service_name}.{self.method_name}: the request was delivered "
                f"{delivered_before} times without an answer; not running it again")
            log.error("%s", exc)
            self._arrived.pop(id(message), None)
            self.rpc_consumer.handle_result(message, None, (type(exc), exc, None))
            return
        super().handle_message(body, message)


# The platform's RPC entrypoint, used as nameko's.
rpc = Rpc.decorator
