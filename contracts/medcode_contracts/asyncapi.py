"""Generate the machine-readable event catalogue (AsyncAPI 3.0) from the event schemas.

    python -m medcode_contracts.asyncapi > docs/asyncapi.json

The committed docs/asyncapi.json is checked against this output in the tests, so the
published catalogue can never drift from what the services validate and emit.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .events import CATALOGUE, Event

_COMMON = {"event_id", "schema", "occurred_at", "traceparent"}


def _message_name(cls: type[Event]) -> str:
    return f"{cls.SOURCE}.{cls.TYPE}.v{cls.VERSION}"


def document() -> dict:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for cls in CATALOGUE:
        name = _message_name(cls)
        schema = cls.model_json_schema(by_alias=True, mode="serialization")
        schema["properties"]["schema"]["const"] = cls.schema_id()
        schema["required"] = sorted(set(schema.get("required", [])) | {"event_id", "schema", "occurred_at"})
        schemas[name] = schema
        messages[name] = {
            "name": cls.TYPE,
            "title": cls.schema_id(),
            "summary": (cls.__doc__ or "").strip() or None,
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{name}"},
        }
        channel = f"{cls.SOURCE}.events/{cls.TYPE}"
        channels.setdefault(
            channel,
            {
                "address": cls.TYPE,
                "description": f"Topic exchange `{cls.SOURCE}.events`, routing key `{cls.TYPE}`.",
                "messages": {},
            },
        )["messages"][name] = {"$ref": f"#/components/messages/{name}"}
        operations[f"publish.{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel.replace('/', '~1')}"},
            "messages": [{"$ref": f"#/channels/{channel.replace('/', '~1')}/messages/{name}"}],
        }
    for message in messages.values():
        if message["summary"] is None:
            del message["summary"]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Medical-coding platform domain events",
            "version": "1.0.0",
            "description": "Events published by the platform's services through Nameko's event "
            "dispatcher (RabbitMQ topic exchange `<service>.events`, routing key = "
            "event type). Payloads are versioned: `schema` names `<service>.<type>/<n>`.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
