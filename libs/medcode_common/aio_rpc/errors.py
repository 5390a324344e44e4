"""Errors the RPC client raises.

A service error whose `exc_path` is in `medcode_contracts.errors.REGISTRY` comes back as
that same class (so its `.code` reaches GraphQL); anything else becomes a RemoteError.
"""

from __future__ import annotations

from medcode_contracts.errors import REGISTRY, PlatformError, Unavailable


class UnknownService(Unavailable):
    """No queue is bound for the service: it was never started on this broker (vhost)."""


class RemoteError(PlatformError):
    """A service raised an error that is not part of the contracts (a bug, usually)."""

    code = "INTERNAL"

    def __init__(self, exc_type: str, value: str, exc_path: str | None = None):
        super().__init__(f"{exc_type}: {value}")
        self.exc_type = exc_type
        self.value = value
        self.exc_path = exc_path


def deserialize(error: dict) -> Exception:
    """Turn nameko's serialised error ({exc_type, exc_path, exc_args, value}) into an exception."""
    exc_path = error.get("exc_path")
    cls = REGISTRY.get(exc_path or "")
    if cls is not None:
        args = error.get("exc_args") or []
        try:
            return cls(*args)
        except TypeError:  # the remote raised it with arguments our class does not take
            return cls(str(error.get("value", "")))
    return RemoteError(str(error.get("exc_type", "Exception")), str(error.get("value", "")), exc_path)
