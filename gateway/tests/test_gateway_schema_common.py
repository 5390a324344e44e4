"""copy_fields: a GraphQL type built from a contract payload's same-named attributes;
field_values: the other way, a GraphQL input's fields as a contract request's keywords."""

from types import SimpleNamespace

import pytest
import strawberry

from gateway.schema.common import copy_fields, field_values


@strawberry.type
class Thing:
    id: strawberry.ID
    title: str
    count: int
    owner: strawberry.Private[str]

    @strawberry.field
    def shout(self) -> str:
        return self.title.upper()


def test_same_names_are_copied_and_the_differing_ones_given():
    source = SimpleNamespace(id="t-1", title="Achalasia", count="3", owner="u-1", extra="never copied")
    thing = copy_fields(Thing, source, count=3)
    assert (thing.id, thing.title, thing.count, thing.owner) == ("t-1", "Achalasia", 3, "u-1")
    assert not hasattr(thing, "extra") and thing.shout() == "ACHALASIA"  # a resolver is no copied field


def test_a_field_the_source_lacks_is_an_error_not_a_silent_default():
    with pytest.raises(AttributeError, match="owner"):
        copy_fields(Thing, SimpleNamespace(id="t-1", title="x", count=1))


@strawberry.input
class ThingInput:
    title: str
    count: int | None = None


def test_an_input_s_fields_by_name():
    assert field_values(ThingInput(title="x")) == {"title": "x", "count": None}
    thing = Thing(id=strawberry.ID("t-1"), title="y", count=2, owner="u-1")
    assert field_values(thing) == {"id": "t-1", "title": "y", "count": 2, "owner": "u-1"}
