"""Error types that cross the broker.

Nameko serialises a raised exception as `exc_path` (`module.Class`) plus `exc_args`; both
sides import the classes below, so the gateway can turn a remote error back into the
same class and map its `code` onto GraphQL's `extensions.code`.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError


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


def first_error(
    exc: ValidationError, whole: str, prefix: tuple[str, ...] = (), field_name: Callable[[str], str] = str
) -> str:
    """`field.path: message` for the first error of a validation (`whole` names the object
    itself), never echoing the value: it may be a password or personal data. `prefix`: the
    path of the validated object in a larger input; `field_name`: how the client spells a field."""
    first = exc.errors()[0]
    where = ".".join(field_name(str(part)) for part in (*prefix, *first["loc"])) or whole
    return f"{where}: {first['msg']}"


# exc_path -> class, for clients that receive nameko's serialised errors.
REGISTRY: dict[str, type[PlatformError]] = {
    f"{cls.__module__}.{cls.__name__}": cls
    for cls in (
        PlatformError,
        BadRequest,
        NotFound,
        Unauthenticated,
        Forbidden,
        Conflict,
        RateLimited,
        Unavailable,
        NotImplementedYet,
    )
}
