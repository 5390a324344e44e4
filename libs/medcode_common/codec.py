"""The platform's JSON codec for messages (RPC requests and replies, events): orjson.

The wire format stays what Nameko speaks, content type `application/json` in UTF-8, so a
process without this codec (kombu's own json) reads and writes the same messages.
`register_with_kombu()` puts it in kombu's registry under kombu's name `json`, which is
what Nameko's consumers accept and its publishers and responders use; the gateway's
aio-pika client calls `dumps`/`loads` directly.

Contracts carry JSON primitives only (pydantic's `model_dump(mode="json")`), so kombu's
`{"__type__": ...}` tags for datetimes and decimals are never needed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "utf-8"
SERIALIZER = "json"  # kombu's (and so Nameko's) name of the codec for CONTENT_TYPE

# Non-string dict keys (ints) become strings as with the standard library's json.
_OPTIONS = orjson.OPT_NON_STR_KEYS


def _fallback(value: Any) -> Any:
    # What the standard library's json also accepts (tuples and subclasses are native to orjson).
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    """`value` as UTF-8 JSON; TypeError for what JSON cannot hold."""
    try:
        return orjson.dumps(value, default=_fallback, option=_OPTIONS)
    except orjson.JSONEncodeError as exc:
        raise TypeError(str(exc)) from None


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """The value of a JSON document; ValueError (orjson.JSONDecodeError) when it is not one."""
    return orjson.loads(data)


def register_with_kombu() -> None:
    """Make kombu's `json` serializer this codec (idempotent); same content type and encoding."""
    from kombu.serialization import register

    register(SERIALIZER, dumps, loads, content_type=CONTENT_TYPE, content_encoding=CONTENT_ENCODING)
