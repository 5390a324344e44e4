"""What the gateway refuses before any GraphQL work, and what it shows strangers.

- Request size: a body (or GET query string) over GATEWAY_MAX_BODY_BYTES gets HTTP 413
  before anything parses it (the token and depth limits only ever saw the query text).
- Rate: RATE_LIMIT_PER_MINUTE requests per client address per minute on /graphql, counted
  per gateway process (N replicas let a client through N times as often); more get HTTP
  429, `extensions.code = "RATE_LIMITED"` and Retry-After. 0 turns it off.
- Mutations: at most one mutation field per request, batched or not, so one request can
  never start a pile of password hashes (login/register) at once.
- Exposure: GraphiQL, introspection and the error text of /readyz are development aids,
  off in production unless turned on.

Their settings (LimitSettings) are a piece of the gateway's one settings class (gateway.settings).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    ValidationRule,
    parse,
)
from graphql.error import GraphQLSyntaxError
from starlette.datastructures import Headers

from .settings import LimitSettings, load_limits  # noqa: F401 (app.py and tests read them here)

log = logging.getLogger("gateway.limits")

MAX_MUTATIONS_PER_REQUEST = 1
TOO_MANY_MUTATIONS = (
    f"A request may run at most {MAX_MUTATIONS_PER_REQUEST} mutation (batched or aliased): send them one at a time."
)
# Distinct client addresses a limiter keeps per minute; past that, newcomers share one
# count, so a flood of spoofed sources costs bounded memory and is limited all the same.
MAX_TRACKED_CLIENTS = 100_000


def graphql_error_response(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> dict:
    """An ASGI-ready JSON error in GraphQL's shape: (start message, body message)."""
    body = json.dumps({"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return {
        "start": {"type": "http.response.start", "status": status, "headers": raw},
        "body": {"type": "http.response.body", "body": body},
    }


async def _send_error(send, status: int, message: str, code: str, headers: dict[str, str] | None = None) -> None:
    response = graphql_error_response(status, message, code, headers)
    await send(response["start"])
    await send(response["body"])


# -- request size ------------------------------------------------------------------------
class BodySizeLimit:
    """HTTP 413 for a body or query string over `max_bytes`. The body is read here (at most
    max_bytes of it) and replayed to the app, so a client that lies in Content-Length or
    sends no length at all is stopped just the same."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> str:
        return f"The request is too large: at most {self.max_bytes} bytes of body or query string (variables included)."

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if len(scope.get("query_string", b"")) > self.max_bytes:
            return await _send_error(send, 413, self._too_large(), "PAYLOAD_TOO_LARGE")
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > self.max_bytes):
            return await _send_error(send, 413, self._too_large(), "PAYLOAD_TOO_LARGE")
        messages, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                messages.append(message)  # a disconnect: let the app see it
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return await _send_error(send, 413, self._too_large(), "PAYLOAD_TOO_LARGE")
            messages.append(message)
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replayed():
            try:
                return next(replay)
            except StopIteration:
                return await receive()

        return await self.app(scope, replayed, send)


# -- rate ------------------------------------------------------------------------------
class RateLimiter:
    """Fixed one-minute windows per key: `hit(key)` is 0 while the key is within its
    limit, else the seconds until its window ends."""

    def __init__(
        self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_TRACKED_CLIENTS
    ):
        self.per_minute = per_minute
        self.clock = clock
        self.max_keys = max_keys
        self._window: int | None = None
        self._counts: dict[str, int] = {}

    def hit(self, key: str) -> int:
        now = self.clock()
        window = int(now // 60)
        if window != self._window:
            self._window, self._counts = window, {}
        if key not in self._counts and len(self._counts) >= self.max_keys:
            key = "(overflow)"
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        if count <= self.per_minute:
            return 0
        return max(1, math.ceil((window + 1) * 60 - now))


class RateLimit:
    """RATE_LIMITED (HTTP 429 with Retry-After) past `per_minute` requests of one client
    address to `paths` (HTTP and websocket handshakes)."""

    def __init__(
        self,
        app,
        per_minute: int,
        client_address: Callable[[Any], str],
        paths=("/graphql",),
        clock: Callable[[], float] = time.monotonic,
    ):
        self.app = app
        self.limiter = RateLimiter(per_minute, clock) if per_minute > 0 else None
        self.client_address = client_address
        self.paths = tuple(paths)

    async def __call__(self, scope, receive, send):
        if self.limiter is None or scope["type"] not in ("http", "websocket") or scope["path"] not in self.paths:
            return await self.app(scope, receive, send)
        wait = self.limiter.hit(self.client_address(scope))
        if not wait:
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            return await send({"type": "websocket.close", "code": 4429, "reason": "Too many requests"})
        return await _send_error(
            send,
            429,
            f"Too many requests from your address: at most {self.limiter.per_minute} a minute. "
            f"Try again in {wait} seconds.",
            "RATE_LIMITED",
            {"Retry-After": str(wait)},
        )


# -- mutations per request -------------------------------------------------------------
def _root_fields(selection_set, fragments: dict, seen: frozenset = frozenset()) -> int:
    count = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            count += not selection.name.value.startswith("__")
        elif isinstance(selection, InlineFragmentNode):
            count += _root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                count += _root_fields(fragments[name].selection_set, fragments, seen | {name})
    return count


def mutation_fields(document, operation_name: str | None = None) -> int:
    """How many mutation fields the operation that would run (by `operation_name`, or
    the only one) selects at its root; 0 for a query or an unclear choice."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
    if operation_name is not None:
        operations = [op for op in operations if op.name and op.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.MUTATION:
        return 0
    return _root_fields(operations[0].selection_set, fragments)


class OneMutationRule(ValidationRule):
    """Validation: no mutation operation selects more than one field (aliases included)."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args):
        if node.operation is not OperationType.MUTATION:
            return
        fragments = {
            d.name.value: d for d in self.context.document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        if _root_fields(node.selection_set, fragments) > MAX_MUTATIONS_PER_REQUEST:
            self.report_error(GraphQLError(TOO_MANY_MUTATIONS, node))


def batch_mutations(items: list) -> int:
    """Mutation fields of a batched request (a list of GraphQLRequestData): the operations
    that would run. A query that does not parse runs no mutation (its error comes later)."""
    total = 0
    for item in items:
        if not isinstance(item.query, str):
            continue
        try:
            document = parse(item.query, max_tokens=5000)
        except GraphQLSyntaxError:
            continue
        total += mutation_fields(document, item.operation_name if isinstance(item.operation_name, str) else None)
    return total
