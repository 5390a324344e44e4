"""How errors reach clients: every error gets `extensions.code`.

- medcode_contracts.errors.PlatformError (raised here or by a service and mapped back by
  the RPC client): its message and its `.code` (BAD_USER_INPUT, UNAVAILABLE, ...);
- GraphQL syntax/validation errors: their message, code GRAPHQL_VALIDATION_FAILED;
- anything else (a bug, an unexpected remote error): masked as "Unexpected error.",
  code INTERNAL, and logged with its traceback.
"""

from __future__ import annotations

import logging

from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from medcode_common.aio_rpc import RemoteError
from medcode_contracts.errors import NotImplementedYet, PlatformError

log = logging.getLogger("gateway.errors")

MASKED_MESSAGE = "Unexpected error."


def not_implemented(field: str) -> NotImplementedYet:
    return NotImplementedYet(f"{field} is not implemented yet")


def is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return True
    return isinstance(original, PlatformError) and not isinstance(original, RemoteError)


class ErrorCodes(MaskErrors):
    """MaskErrors that also puts a code on every error it lets through."""

    def __init__(self) -> None:
        super().__init__(error_message=MASKED_MESSAGE)

    def _process_result(self, result: object) -> None:
        # getattr, not MaskErrors' isinstance against a runtime-checkable Protocol, which
        # inspects the class on every operation.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [self._with_code(error) for error in errors]

    def _with_code(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if not is_expected(error):
            return GraphQLError(
                MASKED_MESSAGE,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions={"code": "INTERNAL"},
            )
        if isinstance(original, PlatformError):
            code = original.code
        elif error.extensions and "code" in error.extensions:
            return error
        elif isinstance(original, GraphQLError) and original.extensions and "code" in original.extensions:
            code = original.extensions["code"]
        else:
            code = "GRAPHQL_VALIDATION_FAILED"
        return GraphQLError(
            error.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=original,
            extensions={**(error.extensions or {}), "code": code},
        )


def log_unexpected(errors: list[GraphQLError]) -> None:
    """Log only what is worth a look: expected errors (bad input, a service down) are
    the client's business and would drown the log."""
    for error in errors:
        if is_expected(error):
            log.debug("GraphQL error: %s", error.message)
        else:
            log.error(
                "unexpected error in %s",
                ".".join(map(str, error.path or [])) or "operation",
                exc_info=error.original_error,
            )
