"""Error types that cross the broker.

Nameko serialises a raised exception as `exc_path` (`module.Class`) plus `exc_args`; both
sides import the classes below, so the gateway can turn a remote error back into the
same class and map its `code` onto GraphQL's `extensions.code`.
"""
from __future__ import annotations


class PlatformError(Exception):
    """Base of every error the platform reports to a client on purpose."""

    code = "INTERNAL"

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadRequest(PlatformError):
    """The caller's input is invalid; the message says what is wrong."""

    code = "BAD_USER_INPUT"


class NotFound(PlatformError):
    code = "NOT_FOUND"


class Unauthenticated(PlatformError):
    code = "UNAUTHENTICATED"


class Forbidden(PlatformError):
    code = "FORBIDDEN"


class Conflict(PlatformError):
    code = "CONFLICT"


class RateLimited(PlatformError):
    code = "RATE_LIMITED"


class Unavailable(PlatformError):
    """A service or store did not answer in time."""

    code = "UNAVAILABLE"


class NotImplementedYet(PlatformError):
    code = "NOT_IMPLEMENTED"


# exc_path -> class, for clients that receive nameko's serialised errors.
REGISTRY: dict[str, type[PlatformError]] = {
    f"{cls.__module__}.{cls.__name__}": cls
    for cls in (PlatformError, BadRequest, NotFound, Unauthenticated, Forbidden,
                Conflict, RateLimited, Unavailable, NotImplementedYet)
}
