"""The executor the schema runs operations with: Strawberry's own, with a shorter way for
the commonest field of all, a scalar or enum read straight off its object.

A search answers ~70 such fields (10 hits x score, highlight, system, code, title,
billable): graphql-core builds a resolve info (14 values) and a path for each, and goes
through its general value completion, about two thirds of the gateway's CPU for a search.
A field whose resolver is Strawberry's basic one (no resolver, no extensions, no arguments)
and whose type is a scalar or an enum needs none of it when its value is plain: read it
and coerce it for output, as graphql-core would. Anything else (a null for a non-null
field, an error, an awaitable, a value that does not coerce) takes graphql-core's own
path, which produces exactly its usual answer and errors.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    Undefined,
    is_leaf_type,
)
from graphql.pyutils import Path
from graphql.pyutils.gather_with_cancel import gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# (resolve, leaf type, nullable) of a plain leaf field; None: the field takes the usual path.
PlainLeaf = tuple[Any, GraphQLLeafType, bool]

# Strawberry's resolver of a basic field (one without a resolver or extensions): it reads
# the attribute and ignores the resolve info (strawberry.schema.schema_converter.from_resolver).
BASIC_RESOLVER = "_get_basic_result"


def plain_leaf(field: GraphQLField) -> PlainLeaf | None:
    """How to read `field` on the short way, or None when it needs graphql-core's path."""
    resolve = field.resolve
    if resolve is None or getattr(resolve, "__name__", None) != BASIC_RESOLVER or field.args:
        return None
    field_type = field.type
    nullable = not isinstance(field_type, GraphQLNonNull)
    leaf = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if not is_leaf_type(leaf):
        return None
    return resolve, leaf, nullable


class Executor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, with plain leaf fields read on the short way (module doc)."""

    # Per object type, its fields' PlainLeaf or None: the schema does not change while
    # the process runs, so this is worked out once per type, not per field per request.
    _plain_leaves: dict[GraphQLObjectType, dict[str, PlainLeaf | None]] = {}

    def execute_fields(self, parent_type, source_value, path, grouped_field_set, position_context):
        """graphql-core's Executor.execute_fields (the same loop, the same handling of
        awaitable fields), with a plain leaf's value read in place of execute_field."""
        if self.middleware_manager is not None and self.middleware_manager.middlewares:
            # An extension wraps every resolver: each field goes through it.
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        leaves = self._plain_leaves.get(parent_type)
        if leaves is None:
            leaves = self._plain_leaves[parent_type] = {
                name: plain_leaf(field) for name, field in parent_type.fields.items()
            }
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list in grouped_field_set.items():
                result = self._plain_value(leaves.get(field_details_list[0].node.name.value), source_value)
                if result is Undefined:
                    result = self.execute_field(
                        parent_type,
                        source_value,
                        field_details_list,
                        Path(path, response_name, parent_type.name),
                        position_context,
                    )
                    if result is Undefined:  # not a field of the type
                        continue
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
                results[response_name] = result
        except Exception:
            if awaitable_fields:
                # Settle what the other fields started: they may fail too.
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                name = awaitable_fields[0]
                results[name] = await results[name]
            else:
                awaited = await gather_with_cancel(*(results[name] for name in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def _plain_value(self, leaf: PlainLeaf | None, source: Any) -> Any:
        """The field's output value, or Undefined when graphql-core must complete it."""
        if leaf is None:
            return Undefined
        resolve, leaf_type, nullable = leaf
        try:
            value = resolve(source, None)
            if value is None:
                return None if nullable else Undefined
            if isinstance(value, Exception) or self.is_awaitable(value):
                return Undefined
            coerced = leaf_type.coerce_output_value(value)
        except Exception:  # noqa: BLE001 - graphql-core's path raises it again, located
            return Undefined
        return Undefined if coerced is None else coerced
