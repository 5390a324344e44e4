"""gateway.schema.execution.Executor: plain fields on a short way and subfields kept
across requests, with the same answers and errors as Strawberry's own executor."""

from __future__ import annotations

import asyncio
import gc
from enum import Enum

import graphql.execution.executor as executor_module
import pytest
import strawberry
from graphql import ExperimentalIncrementalExecutionResults, experimental_execute_incrementally, parse
from graphql.execution.incremental import IncrementalExecutor
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig

from gateway.schema.documents import DocumentCache
from gateway.schema.execution import Executor, _kept_by_operation


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Leaf:
    name: str
    score: float
    count: int
    ok: bool
    colour: Colour
    note: str | None = None

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    async def later(self) -> int:
        return self.count + 1

    @strawberry.field
    def times(self, n: int) -> int:
        return self.count * n


def good(i: int) -> Leaf:
    return Leaf(name=f"n{i}", score=i / 2, count=i, ok=i % 2 == 0, colour=Colour.BLUE, note=None if i else "first")


@strawberry.type
class Pair:
    left: Leaf
    right: Leaf | None = None


@strawberry.type
class Group:
    members: list[Leaf]
    maybe: list[Leaf | None] | None = None


@strawberry.type
class Query:
    @strawberry.field
    def groups(self) -> list[Group]:
        broken = good(5)
        broken.name = None  # type: ignore[assignment]
        return [
            Group(members=[good(0), good(1)], maybe=[None, good(2)]),
            Group(members=[]),
            Group(members=(good(3),), maybe=[good(4), broken]),  # type: ignore[arg-type]  # a tuple is a list too
        ]

    @strawberry.field
    def broken_group(self) -> Group | None:
        broken = good(6)
        broken.name = None  # type: ignore[assignment]
        return Group(members=[good(7), broken])

    @strawberry.field
    def pairs(self) -> list[Pair]:
        broken = good(2)
        broken.name = None  # type: ignore[assignment]
        return [Pair(left=good(0), right=good(1)), Pair(left=good(3)), Pair(left=good(4), right=broken)]

    @strawberry.field
    def broken_pair(self) -> Pair | None:
        broken = good(2)
        broken.count = None  # type: ignore[assignment]
        return Pair(left=broken)

    @strawberry.field
    async def leaves(self) -> list[Leaf]:
        return [good(i) for i in range(3)]

    @strawberry.field
    def broken_name(self) -> list[Leaf]:
        leaf = good(1)
        leaf.name = None  # type: ignore[assignment]  # a non-null field without a value
        return [good(0), leaf]

    @strawberry.field
    def broken_colour(self) -> Leaf | None:
        leaf = good(1)
        leaf.colour = "green"  # type: ignore[assignment]  # no value of the enum
        return leaf

    @strawberry.field
    def wrong_count(self) -> Leaf:
        leaf = good(1)
        leaf.count = "many"  # type: ignore[assignment]  # does not coerce to an Int
        return leaf


QUERIES = [
    "{ leaves { name score count ok colour note shout later times(n: 3) __typename } }",
    "{ leaves { a: name b: name name count ...F } } fragment F on Leaf { count colour }",
    "{ brokenName { name count } }",
    "{ brokenColour { name colour } }",
    "{ wrongCount { count name } }",
    "{ leaves { name @skip(if: true) count @include(if: false) ok } }",
    "{ pairs { left { name later shout } right { name count colour later } } }",
    "{ brokenPair { left { count name } right { name } } }",
    "{ groups { members { name later } maybe { name count } } }",
    "{ brokenGroup { members { count name } } }",
    "{ groups { members @include(if: true) { name } maybe @skip(if: false) { count } } }",
]


def run(schema: strawberry.Schema, query: str) -> tuple:
    result = asyncio.run(schema.execute(query))
    errors = [(e.message, e.path) for e in result.errors or []]
    return result.data, errors


@pytest.mark.parametrize("query", QUERIES)
def test_the_same_answer_and_errors_as_strawberry_s_own_executor(query):
    expected = run(strawberry.Schema(query=Query), query)
    assert run(strawberry.Schema(query=Query, execution_context_class=Executor), query) == expected


def test_errors_of_plain_fields_are_located_as_usual():
    data, errors = run(strawberry.Schema(query=Query, execution_context_class=Executor), QUERIES[2])
    assert data is None  # brokenName is non-null too: the null reaches the top
    assert errors == [("Cannot return null for non-nullable field Leaf.name.", ["brokenName", 1, "name"])]


def test_plain_leaves_take_the_short_way(monkeypatch):
    infos: list[str] = []
    original = Executor.build_resolve_info

    def counted(self, field_def, field_nodes, parent_type, path):
        infos.append(f"{parent_type.name}.{field_nodes[0].name.value}")
        return original(self, field_def, field_nodes, parent_type, path)

    monkeypatch.setattr(Executor, "build_resolve_info", counted)
    schema = strawberry.Schema(query=Query, execution_context_class=Executor)
    data, errors = run(schema, "{ leaves { name score count ok colour note shout } }")
    assert not errors and len(data["leaves"]) == 3
    # Only the fields with a resolver get a resolve info; name, score ... are read directly.
    assert infos == ["Query.leaves"] + ["Leaf.shout"] * 3
    infos.clear()
    data, errors = run(schema, "{ pairs { left { name shout } right { count } } }")
    assert len(errors) == 0 and data["pairs"][1] == {"left": {"name": "n3", "shout": "N3"}, "right": None}
    assert infos == ["Query.pairs"] + ["Leaf.shout"] * 3  # left and right are read directly too
    infos.clear()
    data, errors = run(schema, "{ groups { members { shout } maybe { count } } }")
    assert not errors and data["groups"][0]["maybe"] == [None, {"count": 2}]
    assert infos == ["Query.groups"] + ["Leaf.shout"] * 3  # and the lists of members


def test_errors_inside_plain_objects_are_located_and_propagate_as_usual():
    schema = strawberry.Schema(query=Query, execution_context_class=Executor)
    data, errors = run(schema, "{ pairs { left { name later shout } right { name count colour later } } }")
    assert data["pairs"][2] == {"left": {"name": "n4", "later": 5, "shout": "N4"}, "right": None}
    assert errors == [("Cannot return null for non-nullable field Leaf.name.", ["pairs", 2, "right", "name"])]
    data, errors = run(schema, "{ brokenPair { left { count name } right { name } } }")
    assert data == {"brokenPair": None}  # left is non-null: the null reaches the nullable brokenPair
    assert errors == [("Cannot return null for non-nullable field Leaf.count.", ["brokenPair", "left", "count"])]


class Upper(SchemaExtension):
    def resolve(self, _next, root, info, *args, **kwargs):
        value = _next(root, info, *args, **kwargs)
        return value.upper() if isinstance(value, str) else value


def test_an_extension_that_wraps_every_resolver_still_sees_every_field():
    schema = strawberry.Schema(query=Query, execution_context_class=Executor, extensions=[Upper])
    data, errors = run(schema, "{ leaves { name shout } }")
    assert not errors and data["leaves"][1] == {"name": "N1", "shout": "N1"}


def test_errors_inside_plain_lists_are_located_and_propagate_as_usual():
    schema = strawberry.Schema(query=Query, execution_context_class=Executor)
    data, errors = run(schema, "{ groups { members { name later } maybe { name count } } }")
    assert data["groups"][2]["maybe"] == [{"name": "n4", "count": 4}, None]  # items may be null
    assert errors == [("Cannot return null for non-nullable field Leaf.name.", ["groups", 2, "maybe", 1, "name"])]
    data, errors = run(schema, "{ brokenGroup { members { count name } } }")
    assert data == {"brokenGroup": None}  # members' items and the list are non-null: up to brokenGroup
    assert errors == [("Cannot return null for non-nullable field Leaf.name.", ["brokenGroup", "members", 1, "name"])]


# The same query text with each of its variables, run in turn: the subfields kept from one
# run must never answer another whose variables select other fields.
SAME_TEXT_OTHER_VARIABLES = [
    (
        "query($a: Boolean!, $b: Boolean!) { leaves { name @include(if: $a) count @skip(if: $b) ok } }",
        [{"a": True, "b": False}, {"a": False, "b": True}, {"a": True, "b": True}, {"a": False, "b": False}],
    ),
    (
        "query($a: Boolean!) { pairs { left { ... @include(if: $a) { name } count } right { name } } }",
        [{"a": True}, {"a": False}, {"a": True}],
    ),
    (
        "query($a: Boolean!) { groups { members { ...F @skip(if: $a) score } } } fragment F on Leaf { name colour }",
        [{"a": False}, {"a": True}, {"a": False}],
    ),
    (
        "query($a: Boolean!) { pairs { left @include(if: $a) { name } right { count } } }",
        [{"a": True}, {"a": False}],
    ),
    (
        "query($a: Boolean!) { pairs { ...P } } fragment P on Pair { left { name count @include(if: $a) } }",
        [{"a": True}, {"a": False}, {"a": True}],
    ),
    (  # a directive inside a fragment or an inline fragment counts at the level they are spread
        "query($a: Boolean!) { pairs { left { ...F } right { ... on Leaf { name @skip(if: $a) } } } }"
        " fragment F on Leaf { name count @include(if: $a) }",
        [{"a": True}, {"a": False}, {"a": True}],
    ),
    (  # a directive deep down: the levels above are kept, the one with it is not
        "query($a: Boolean!) { groups { members { name count @include(if: $a) } maybe { name } } }",
        [{"a": False}, {"a": True}],
    ),
    ("query($n: Int!) { leaves { times(n: $n) name } }", [{"n": 2}, {"n": 3}]),  # a variable in an argument
    ("{ pairs { l: left { ...F n: name } r: right { ...F } } } fragment F on Leaf { name count colour }", [{}, {}]),
    ("{ pairs { left { name } left { count shout } right { ... on Leaf { colour } } } }", [{}, {}]),
    ("{ groups { members { name later } maybe { name count } } }", [{}, {}]),  # errors in plain lists
    ("{ brokenGroup { members { count name } } pairs { right { name } } }", [{}, {}]),
]


def run_with(schema: strawberry.Schema, query: str, variables: dict) -> tuple:
    result = asyncio.run(schema.execute(query, variable_values=variables))
    return result.data, [(e.message, e.path) for e in result.errors or []]


@pytest.mark.parametrize(("query", "variables"), SAME_TEXT_OTHER_VARIABLES)
def test_a_document_run_again_answers_as_the_first_time(query, variables):
    # The gateway's document cache gives every run of a text the same parsed document.
    kept = strawberry.Schema(query=Query, execution_context_class=Executor, extensions=[DocumentCache])
    reference = strawberry.Schema(query=Query)
    for values in variables:
        assert run_with(kept, query, values) == run_with(reference, query, values), values


def count_collections(monkeypatch) -> list[str]:
    """The types graphql-core collects subfields for, from now on."""
    collected: list[str] = []
    original = executor_module.collect_subfields

    def counted(schema, fragments, variable_values, operation, return_type, *args):
        collected.append(return_type.name)
        return original(schema, fragments, variable_values, operation, return_type, *args)

    monkeypatch.setattr(executor_module, "collect_subfields", counted)
    return collected


def test_subfields_are_collected_once_per_document_where_no_variable_can_change_them(monkeypatch):
    schema = strawberry.Schema(query=Query, execution_context_class=Executor, extensions=[DocumentCache])
    collected = count_collections(monkeypatch)
    query = "{ pairs { left { name } right { ...F } } } fragment F on Leaf { count }"
    first = run(schema, query)
    assert collected == ["Pair", "Leaf", "Leaf"]  # once per request as usual: the first time
    collected.clear()
    assert run(schema, query) == first and collected == []  # then kept
    query = "query($a: Boolean!) { pairs { left { name @include(if: $a) } right { count } } }"
    run_with(schema, query, {"a": True})
    collected.clear()
    run_with(schema, query, {"a": False})
    assert collected == ["Leaf"]  # left's, again; pairs' and right's are kept


def test_kept_subfields_go_with_their_document():
    schema = strawberry.Schema(query=Query, execution_context_class=Executor)  # a new document per run
    query = "{ pairs { left { name } } }"
    run(schema, query)
    gc.collect()
    before = len(_kept_by_operation)
    for _ in range(5):
        run(schema, query)
    gc.collect()
    assert len(_kept_by_operation) == before


def test_deferred_fields_are_never_answered_from_kept_subfields():
    schema = strawberry.Schema(
        query=Query,
        execution_context_class=Executor,
        config=StrawberryConfig(enable_experimental_incremental_execution=True),
    )
    # One parsed document for every run, as the gateway's document cache gives.
    document = parse("query($d: Boolean!) { pairs { ... @defer(if: $d) { left { name } } left { count } } }")

    async def answers(executor_class, deferred: bool) -> list:
        result = experimental_execute_incrementally(
            schema._schema, document, variable_values={"d": deferred}, executor_class=executor_class
        )
        if not isinstance(result, ExperimentalIncrementalExecutionResults):
            return [result.formatted]
        return [result.initial_result.formatted] + [frame.formatted async for frame in result.subsequent_results]

    async def compare() -> None:
        for deferred in (False, True, False, True):
            expected = await answers(IncrementalExecutor, deferred)
            assert await answers(Executor, deferred) == expected, deferred

    asyncio.run(compare())
