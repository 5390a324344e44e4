"""Helpers for RPC entrypoints: validate a request payload against its contract model, and
the `rpc` entrypoint every service uses (nameko's, guarded against requests that spin)."""
from __future__ import annotations

import logging

from nameko.rpc import Rpc as _NamekoRpc
from pydantic import BaseModel, ValidationError

from medcode_contracts.errors import BadRequest

log = logging.getLogger(__name__)


def parse_request(model: type[BaseModel], payload) -> BaseModel:
    """`model` validated from `payload`, or BadRequest naming the first bad field (never
    echoing the value: it may be a password)."""
    if not isinstance(payload, dict):
        raise BadRequest(f"request: expected an object with the fields of {model.__name__}")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "request"
        raise BadRequest(f"{where}: {first['msg']}") from None


class RequestKeepsFailing(Exception):
    """Answered instead of running a request whose handler took its worker down too often."""


class Rpc(_NamekoRpc):
    """`nameko.rpc.Rpc` that never lets one request spin. A handler that raises already
    answers the caller with the error and acknowledges the request (Nameko does that);
    what is left is a request whose handler kills the process (out of memory, a crash in
    a C extension) before it can answer: the broker would hand it to the next replica,
    forever. Quorum queues (production) count such deliveries in `x-delivery-count`;
    at EVENT_MAX_ATTEMPTS the request is answered with RequestKeepsFailing instead."""

    def setup(self):
        super().setup()
        from .dead_letters import load_settings

        self.max_deliveries = load_settings().EVENT_MAX_ATTEMPTS

    def handle_message(self, body, message):
        from .dead_letters import DELIVERY_COUNT

        delivered_before = int((message.headers or {}).get(DELIVERY_COUNT) or 0)
        if delivered_before >= self.max_deliveries:
            exc = RequestKeepsFailing(
                f"{self.container.service_name}.{self.method_name}: the request was delivered "
                f"{delivered_before} times without an answer; not running it again")
            log.error("%s", exc)
            self.rpc_consumer.handle_result(message, None, (type(exc), exc, None))
            return
        super().handle_message(body, message)


# The platform's RPC entrypoint: `from medcode_common.rpc import rpc`, used as nameko's.
rpc = Rpc.decorator
