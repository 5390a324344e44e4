"""Types several domains share, and how a type is built from a contract payload."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar, cast

import strawberry

T = TypeVar("T")


def copy_fields(graphql_type: type[T], source: object, **differing: Any) -> T:
    """A `graphql_type` whose fields are `source`'s attributes of the same names (`source`
    is a contract model), but for the fields given in `differing`: only what is converted
    or computed is written out. Fields with a resolver are not copied; they resolve."""
    copied = {name: getattr(source, name) for name in _init_fields(graphql_type) if name not in differing}
    return graphql_type(**copied, **differing)


def field_values(graphql_object: object) -> dict[str, Any]:
    """The fields of a Strawberry input (or type) by name: a contract request's keywords
    where the names are the same."""
    return {name: getattr(graphql_object, name) for name in _init_fields(type(graphql_object))}


def _init_fields(graphql_type: type) -> tuple[str, ...]:
    """The constructor's fields, once per type (asked for every object of a search or code page)."""
    names = _INIT_FIELDS.get(graphql_type)
    if names is None:
        # Strawberry types are dataclasses; a field with a resolver is no constructor argument.
        names = _INIT_FIELDS[graphql_type] = tuple(
            f.name for f in dataclasses.fields(cast(Any, graphql_type)) if f.init
        )
    return names


_INIT_FIELDS: dict[type, tuple[str, ...]] = {}


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = None
