"""medcode_common.fields: copying by name between models, records and table rows."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from pydantic import BaseModel

from medcode_common.fields import columns_from, field_names, fields_from

metadata = sa.MetaData()
counters = sa.Table(
    "counters",
    metadata,
    sa.Column("key", sa.String(10), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),  # `Row.count` is tuple.count
    sa.Column("created_at", sa.String(30), nullable=False),
)


class Counter(BaseModel):
    key: str
    count: int
    label: str


@dataclass(frozen=True)
class CounterRecord:
    key: str
    count: int
    note: str  # no such column


def test_field_names_of_models_and_dataclasses() -> None:
    assert field_names(Counter) == ("key", "count", "label")
    assert field_names(CounterRecord) == ("key", "count", "note")
    with pytest.raises(TypeError):
        field_names(dict)


def test_fields_from_a_row_reads_columns_not_row_attributes() -> None:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(counters.insert().values(key="a", count=3, created_at="now"))
        row = conn.execute(sa.select(counters)).one()
    assert fields_from(Counter, row, label="A") == {"key": "a", "count": 3, "label": "A"}


def test_fields_from_an_object_with_differing_values_winning() -> None:
    record = CounterRecord(key="a", count=3, note="n")
    assert fields_from(Counter, record, count=4, label="A") == {"key": "a", "count": 4, "label": "A"}
    with pytest.raises(AttributeError):
        fields_from(Counter, record)  # `label` is neither on the record nor given


def test_columns_from_takes_only_the_table_columns_then_the_given_ones() -> None:
    record = CounterRecord(key="a", count=3, note="not a column")
    assert columns_from(counters, record, created_at="now") == {"key": "a", "count": 3, "created_at": "now"}
    assert columns_from(counters, Counter(key="b", count=1, label="x"), count=2, created_at="t") == {
        "key": "b",
        "count": 2,
        "created_at": "t",
    }
