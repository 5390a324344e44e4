"""gateway.schema.hooks: extension hooks wrapped once per class, run as Strawberry runs
them (the same order, the same answers, an error seen by the hooks it passes through)."""

from __future__ import annotations

import asyncio
import contextlib

import strawberry
from strawberry.extensions import SchemaExtension

from gateway.schema import Schema

events: list[str] = []


class Generators(SchemaExtension):
    """A sync generator hook for every stage; on_execute sees the error of a bad query."""

    def on_operation(self):
        events.append(f"operation {self.execution_context.query}")
        yield
        events.append(f"operation done {self.execution_context.result.data}")

    def on_parse(self):
        events.append("parse")
        yield
        events.append(f"parsed {self.execution_context.graphql_document is not None}")

    def on_validate(self):
        events.append("validate")
        yield
        events.append(f"validated {len(self.execution_context.pre_execution_errors or [])}")

    def on_execute(self):
        events.append("execute")
        try:
            yield
        except Exception as error:
            events.append(f"execute raised {error}")
            raise
        events.append("executed")


class AsyncGenerators(SchemaExtension):
    async def on_operation(self):
        events.append("async operation")
        yield
        events.append("async operation done")

    async def on_execute(self):
        await asyncio.sleep(0)
        events.append("async execute")
        yield
        events.append("async executed")


class Functions(SchemaExtension):
    """Plain-function hooks: Strawberry's own way."""

    def on_parse(self):
        events.append("function parse")

    async def on_validate(self):
        events.append("async function validate")


class Failing(SchemaExtension):
    def on_execute(self):
        yield
        if self.execution_context.query and "fail" in self.execution_context.query:
            raise RuntimeError("after execute")


@strawberry.type
class Query:
    @strawberry.field
    def hello(self, name: str = "you") -> str:
        return f"hello {name}"

    @strawberry.field
    def fail(self) -> str:
        raise ValueError("no")


EXTENSIONS = [Generators, AsyncGenerators, Functions, Failing]
QUERIES = ["{ hello }", '{ hello(name: "x") fail }', "{ nope }", "{ hello", "query { fail }"]


def run(schema: strawberry.Schema, query: str) -> tuple:
    events.clear()
    result = asyncio.run(schema.execute(query))
    return result.data, [error.message for error in result.errors or []], list(events)


def test_hooks_run_as_strawberry_runs_them():
    for query in QUERIES:
        expected = run(strawberry.Schema(query=Query, extensions=EXTENSIONS), query)
        assert run(Schema(query=Query, extensions=EXTENSIONS), query) == expected, query


def test_generator_hooks_are_wrapped_once_per_class(monkeypatch):
    wrapped: list[str] = []
    original = contextlib.contextmanager

    def counted(function):
        wrapped.append(function.__name__)
        return original(function)

    monkeypatch.setattr(contextlib, "contextmanager", counted)
    schema = Schema(query=Query, extensions=EXTENSIONS)
    run(schema, "{ hello }")
    wrapped.clear()
    for _ in range(3):
        assert run(schema, "{ hello }")[0] == {"hello": "hello you"}
    assert [name for name in wrapped if name.startswith("on_")] == []  # Strawberry's: each hook, each request
