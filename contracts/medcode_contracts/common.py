"""Pieces every service's contract uses."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo

HEALTH = "health"  # every service answers this RPC with a Health payload

# An id a caller passes (account, job, guest, saved search...): never empty, never huge.
Id = Annotated[str, Field(min_length=1, max_length=100)]


class Model(BaseModel):
    """Base for contract payloads: unknown fields are refused, so typos fail loudly."""

    model_config = ConfigDict(extra="forbid", frozen=False)


def stripped_not_blank(value: str, info: ValidationInfo) -> str:
    """A field validator: the text without the white space around it, refused when that
    leaves nothing. Use: `_not_blank = field_validator("question")(stripped_not_blank)`."""
    value = value.strip()
    if not value:
        raise ValueError(f"{info.field_name} must not be blank")
    return value


class NoArguments(Model):
    """The request of an RPC that takes no arguments (`health`): sent as no keyword at all,
    so the wire call stays `health()`."""


class ItemError(Model):
    """One item's error in a batch reply, as Nameko serialises a raised exception (its
    class's `module.Class` path, its arguments and text), so a caller turns it back into
    the same class (medcode_contracts.errors.REGISTRY) as for a failed single call."""

    exc_type: str
    exc_path: str | None = None
    exc_args: list = []
    value: str = ""


class Health(Model):
    service: str
    status: str = "ok"
    details: dict[str, str] = {}
