"""Helpers for RPC entrypoints: validate a request payload against its contract model,
and answer each item of a batch twin's request on its own."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from nameko.exceptions import serialize
from pydantic import BaseModel, ValidationError

from medcode_contracts.errors import BadRequest, PlatformError, first_error

ModelT = TypeVar("ModelT", bound=BaseModel)
ItemT = TypeVar("ItemT")
log = logging.getLogger(__name__)


def parse_request(model: type[ModelT], payload) -> ModelT:
    """`model` validated from `payload`, or BadRequest naming the first bad field (never
    echoing the value: it may be a password)."""
    if not isinstance(payload, dict):
        raise BadRequest(f"request: expected an object with the fields of {model.__name__}")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise BadRequest(first_error(exc, "request")) from None


def answer_each(items: Iterable[ItemT], answer: Callable[[ItemT], Any]) -> list[dict]:
    """The reply of a batch twin (search_codes_many, check_views_many): for each item,
    `{"result": answer(item)}`, or `{"error": ...}` serialised as Nameko serialises what
    the plain RPC would have raised for it (medcode_contracts.common.ItemError), so one
    item's error fails no other."""
    outcomes: list[dict] = []
    for item in items:
        try:
            outcomes.append({"result": answer(item)})
        except Exception as exc:  # noqa: BLE001 - the error is this item's answer alone
            if not isinstance(exc, PlatformError):  # a fault, not the caller's input: said here too
                log.exception("one item of a batch call failed")
            outcomes.append({"error": serialize(exc)})
    return outcomes
