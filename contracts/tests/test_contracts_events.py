"""The event contract: schemas, the published catalogue, and the events.md table."""

import json
import re
from pathlib import Path

import pytest

from medcode_contracts import asyncapi, events

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO.parent / "shared" / "contract" / "events.md"


def test_committed_asyncapi_catalogue_matches_the_schemas():
    committed = (REPO / "docs" / "asyncapi.json").read_text()
    assert committed == asyncapi.render(), "run: python -m medcode_contracts.asyncapi > docs/asyncapi.json"


def test_every_event_of_the_contract_table_has_a_schema_with_its_fields():
    if not CONTRACT.exists():
        pytest.skip("the shared contract is not beside this checkout")
    rows = re.findall(r"^\| (\w+) \| `(\w+)` \| [^|]+ \| ([^|]+) \|$", CONTRACT.read_text(), re.M)
    assert len(rows) == 11
    for service, event_type, fields in rows:
        cls = events.BY_SCHEMA[f"{service}.{event_type}/1"]
        expected = set(re.findall(r"`(\w+)`", fields))
        assert expected <= set(cls.model_fields), (event_type, expected - set(cls.model_fields))


def test_payload_round_trips_and_carries_the_common_fields():
    event = events.UserDeleted(user_id="u1", traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    payload = json.loads(json.dumps(event.payload()))
    assert payload["schema"] == "accounts.user_deleted/1"
    assert {"event_id", "occurred_at", "traceparent", "user_id"} <= payload.keys()
    assert events.parse(payload) == event


def test_unknown_schema_and_missing_fields_are_refused():
    with pytest.raises(ValueError, match="unknown event schema"):
        events.parse({"schema": "accounts.user_deleted/9"})
    with pytest.raises(ValueError):
        events.parse({"schema": "accounts.user_deleted/1"})


def test_no_personal_data_beyond_the_contract():
    for cls in events.CATALOGUE:
        assert not {"password", "token", "password_hash"} & set(cls.model_fields)
        if cls is not events.QuestionReceived:
            assert "question" not in cls.model_fields
