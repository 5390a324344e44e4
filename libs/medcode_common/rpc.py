"""Helpers for RPC entrypoints: validate a request payload against its contract model."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from medcode_contracts.errors import BadRequest, first_error

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_request(model: type[ModelT], payload) -> ModelT:
    """`model` validated from `payload`, or BadRequest naming the first bad field (never
    echoing the value: it may be a password)."""
    if not isinstance(payload, dict):
        raise BadRequest(f"request: expected an object with the fields of {model.__name__}")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise BadRequest(first_error(exc, "request")) from None
