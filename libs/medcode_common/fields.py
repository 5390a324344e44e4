"""Copying values by name between contract models, records and table rows, so a mapping
writes out only the fields it converts or renames:

    Application(**fields_from(Application, row, submitted_at=iso(row.submitted_at)))
    table.insert().values(**columns_from(table, request, id=new_id, created_at=now))

A model or record is a pydantic model or a dataclass; a source is any object with the
attributes, or a SQLAlchemy row (read by column name: `Row.count` would be tuple.count).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def field_names(model: type) -> tuple[str, ...]:
    """The fields of a pydantic model or a dataclass, in declaration order (once per type:
    asked for every row read)."""
    names = _FIELD_NAMES.get(model)
    if names is None:
        if isinstance(model, type) and issubclass(model, BaseModel):
            names = tuple(model.model_fields)
        elif dataclasses.is_dataclass(model):
            names = tuple(f.name for f in dataclasses.fields(model))
        else:
            raise TypeError(f"{model!r} is neither a pydantic model nor a dataclass")
        _FIELD_NAMES[model] = names
    return names


def fields_from(model: type, source: object, /, **differing: Any) -> dict[str, Any]:
    """`model`'s fields as `source`'s values of the same names, `differing` instead of the
    ones that are converted or named otherwise there."""
    get = source._mapping.__getitem__ if isinstance(source, sa.Row) else functools.partial(getattr, source)
    return {name: differing[name] if name in differing else get(name) for name in field_names(model)}


def columns_from(table: sa.Table, source: object, /, **differing: Any) -> dict[str, Any]:
    """A row of `table`: the fields of `source` (a model or record) that are columns of the
    table, then `differing` (the converted ones and the columns `source` has no field for)."""
    columns = table.c
    copied = {
        name: getattr(source, name) for name in field_names(type(source)) if name in columns and name not in differing
    }
    return copied | differing
