"""The executor the schema runs operations with: Strawberry's own, with a shorter way for
the commonest fields of all, plain attributes of the object being answered.

A search answers ~70 fields (10 hits x score, highlight, node, system, code, title,
billable), nearly all of them attributes: graphql-core builds a resolve info (14 values)
for each, calls Strawberry's resolver chain (three calls to reach `getattr`) and goes
through its general value completion, most of the gateway's CPU for a search.

A *plain* field is one Strawberry resolves by reading the attribute (no resolver, no
extensions, no permission classes, no arguments, the default `getattr`) whose type is a
scalar or an enum, an object type that needs no `is_type_of` check, or a list of such
objects. Its value is read here and, when it is plain too (not null for a non-null field,
no error, not awaitable, a leaf that coerces, a list or tuple without a directive such as
@stream on the field), completed as graphql-core would: a leaf coerced for output, an
object by executing its own fields, a list item by item. Anything else takes graphql-core's path, which then gives
exactly its usual answer and errors (tests compare both executors).

The subfields of a selection (which fields an object's answer has, with their nodes)
are collected by graphql-core for each selection and object type of each request. Where
no variable can change them (no directive among the selection's fields and fragments, so
no @include, @skip or @defer; no fragment with variables; nothing deferred above) they
are the same for every run of the same parsed document, which the schema's document
cache keeps: they are kept here too, with the operation, and dropped when it is freed.
"""

from __future__ import annotations

import weakref
from typing import Any, NamedTuple

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    OperationDefinitionNode,
    Undefined,
    is_leaf_type,
    is_object_type,
)
from graphql.execution.collect_fields import CollectedFields, FieldDetailsList, FragmentDetails
from graphql.pyutils import Path
from graphql.pyutils.gather_with_cancel import gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

LEAF, OBJECT, LIST = "leaf", "object", "list"


class PlainField(NamedTuple):
    attribute: str  # the Python attribute the field reads
    declared: GraphQLOutputType  # the field's type
    type: GraphQLOutputType  # the same without its non-null wrapper (LIST: the item's object type)
    nullable: bool
    kind: str  # LEAF (a scalar or an enum), OBJECT or LIST (a list of objects)
    item_declared: GraphQLOutputType | None = None  # LIST: the item type, with its non-null wrapper
    item_nullable: bool = True


def _plain_object_type(graphql_type: GraphQLOutputType) -> bool:
    return is_object_type(graphql_type) and graphql_type.is_type_of is None  # type: ignore[union-attr]


def plain_field(field: GraphQLField) -> PlainField | None:
    """How to read `field` on the short way, or None when it needs graphql-core's path."""
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    resolve = field.resolve
    if (
        definition is None
        or resolve is None
        or getattr(resolve, "_is_default", False) is not True
        or not definition.is_basic_field
        or definition.default_resolver is not getattr
        or field.args
    ):
        return None
    nullable = not isinstance(field.type, GraphQLNonNull)
    inner = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    if is_leaf_type(inner):
        return PlainField(definition.python_name, field.type, inner, nullable, LEAF)
    if _plain_object_type(inner):
        return PlainField(definition.python_name, field.type, inner, nullable, OBJECT)
    if isinstance(inner, GraphQLList):
        item = inner.of_type
        item_nullable = not isinstance(item, GraphQLNonNull)
        item_type = item.of_type if isinstance(item, GraphQLNonNull) else item
        if _plain_object_type(item_type):
            return PlainField(definition.python_name, field.type, item_type, nullable, LIST, item, item_nullable)
    return None


# Per operation (by id, with a weak reference to it), its kept subfields by return type
# and field nodes; each entry keeps its field nodes alive, so their ids stay theirs.
KeptSubfields = dict[tuple, tuple[tuple, CollectedFields]]
_kept_by_operation: dict[int, tuple[weakref.ref, KeptSubfields]] = {}


def kept_subfields(operation: OperationDefinitionNode) -> KeptSubfields:
    """The subfields kept for `operation`, forgotten when the operation is freed. Nothing
    kept refers back to the operation (a node refers only to its children and tokens)."""
    key = id(operation)
    kept = _kept_by_operation.get(key)
    if kept is not None and kept[0]() is operation:
        return kept[1]

    def forget(ref: weakref.ref) -> None:
        if key in _kept_by_operation and _kept_by_operation[key][0] is ref:
            del _kept_by_operation[key]

    subfields: KeptSubfields = {}
    _kept_by_operation[key] = (weakref.ref(operation, forget), subfields)
    return subfields


def undeferred(field_details_list: FieldDetailsList) -> bool:
    """Whether no field of the list is deferred or in a fragment with variables: then its
    details are its node and nothing of the request's."""
    return all(
        details.defer_usage is None and details.fragment_variable_values is None for details in field_details_list
    )


def fixed_by_document(fragments: dict[str, FragmentDetails], nodes: tuple[FieldNode, ...]) -> bool:
    """Whether the subfields graphql-core collects for these (undeferred) field nodes depend
    on the document alone: no directive among the selections it visits (fields, inline
    fragments, spreads and the fragments they spread) and no fragment with variables."""
    pending = [node.selection_set for node in nodes if node.selection_set is not None]
    visited: set[str] = set()
    while pending:
        for selection in pending.pop().selections:
            if selection.directives:
                return False
            if isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in visited:
                visited.add(selection.name.value)
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    if fragment.variable_signatures:
                        return False
                    pending.append(fragment.definition.selection_set)
    return True


class Executor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, with plain fields read on the short way (module doc)."""

    # Per object type, its fields' PlainField or None: the schema does not change while the
    # process runs, so this is worked out once per type, not per field per request.
    _plain_fields: dict[GraphQLObjectType, dict[str, PlainField | None]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept_subfields = kept_subfields(self.operation)

    def collect_subfields(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> CollectedFields:
        """graphql-core's (memoised for the request), with the subfields the document alone
        fixes kept across requests (module doc)."""
        memo_key = (return_type, id(field_details_list))
        memoised = self._relevant_sub_fields.get(memo_key)
        if memoised is not None:  # another item of the same list
            return memoised[1]
        if not undeferred(field_details_list):
            return super().collect_subfields(return_type, field_details_list)
        nodes = tuple(details.node for details in field_details_list)
        key = (return_type, *map(id, nodes))
        kept = self._kept_subfields.get(key)
        if kept is None:
            collected = super().collect_subfields(return_type, field_details_list)
            if fixed_by_document(self.fragments, nodes):
                self._kept_subfields[key] = (nodes, collected)
            return collected
        self._relevant_sub_fields[memo_key] = (field_details_list, kept[1])
        return kept[1]

    def execute_fields(self, parent_type, source_value, path, grouped_field_set, position_context):
        """graphql-core's Executor.execute_fields (the same loop, the same handling of
        awaitable fields), with a plain field's value read in place of execute_field."""
        if self.middleware_manager is not None and self.middleware_manager.middlewares:
            # An extension wraps every resolver: each field goes through it.
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        plain = self._plain_fields.get(parent_type)
        if plain is None:
            plain = self._plain_fields[parent_type] = {
                name: plain_field(field) for name, field in parent_type.fields.items()
            }
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list in grouped_field_set.items():
                field = plain.get(field_details_list[0].node.name.value)
                result = Undefined
                if field is not None:
                    if field.kind is LEAF:
                        result = self._plain_value(field, source_value)
                    else:
                        result = (self._plain_object if field.kind is OBJECT else self._plain_list)(
                            field,
                            source_value,
                            field_details_list,
                            Path(path, response_name, parent_type.name),
                            position_context,
                        )
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

    def _plain_value(self, field: PlainField, source: Any) -> Any:
        """A plain field's value (a leaf's coerced for output, an object's or a list's as
        read), None where it may be null, or Undefined when graphql-core must resolve and
        complete it: reading or coercing it raised or gave null where it may not be, or
        it is an error or an awaitable."""
        try:
            value = getattr(source, field.attribute)
            if value is None:
                return None if field.nullable else Undefined
            if isinstance(value, Exception) or self.is_awaitable(value):
                return Undefined
            if field.kind is not LEAF:
                return value
            coerced = field.type.coerce_output_value(value)  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - graphql-core's path raises it again, located
            return Undefined
        return Undefined if coerced is None else coerced

    def _plain_object(self, field: PlainField, source: Any, field_details_list, field_path: Path, position_context):
        """A plain object field's completed value (or an awaitable of it), or Undefined when
        graphql-core must resolve and complete it: its fields executed as graphql-core's
        complete_object_value does, an error among them handled as execute_field does."""
        value = self._plain_value(field, source)
        if value is None or value is Undefined:
            return value
        return self._complete_object(
            field.type, field.declared, field_details_list, field_path, value, position_context
        )

    def _plain_list(self, field: PlainField, source: Any, field_details_list, field_path: Path, position_context):
        """A plain list-of-objects field's completed value (or an awaitable of it), or
        Undefined when graphql-core must resolve and complete it (an item that is null
        where it may not be, an error or an awaitable; a value that is not a list or
        tuple; a directive on the field, which may be @stream): its items completed as
        graphql-core's complete_iterable_value does, an error among them handled as
        complete_list_item_value and execute_field do."""
        items = self._plain_value(field, source)
        if items is None or items is Undefined:
            return items
        if type(items) is not list and type(items) is not tuple:
            return Undefined
        if field_details_list[0].node.directives:
            return Undefined
        is_awaitable = self.is_awaitable
        for item in items:
            if (item is None and not field.item_nullable) or isinstance(item, Exception) or is_awaitable(item):
                return Undefined
        item_declared = field.item_declared
        completed: list[Any] = []
        awaitable_indices: list[int] = []
        try:
            for index, item in enumerate(items):
                if item is None:
                    completed.append(None)
                    continue
                item_path = field_path.add_key(index, None)
                value = self._complete_object(
                    field.type,
                    item_declared,  # type: ignore[arg-type]
                    field_details_list,
                    item_path,
                    item,
                    position_context,
                )
                if is_awaitable(value):
                    awaitable_indices.append(index)
                completed.append(value)
        except Exception as raw_error:
            if awaitable_indices:
                self.settle_in_background([completed[index] for index in awaitable_indices])
            self.handle_field_error(raw_error, field.declared, field_details_list, field_path)
            return None
        if not awaitable_indices:
            return completed

        async def await_completed() -> Any:
            try:
                awaited = await gather_with_cancel(*(completed[index] for index in awaitable_indices))
            except Exception as raw_error:
                self.handle_field_error(raw_error, field.declared, field_details_list, field_path)
                return None
            for index, value in zip(awaitable_indices, awaited, strict=True):
                completed[index] = value
            return completed

        return await_completed()

    def _complete_object(
        self, object_type, declared: GraphQLOutputType, field_details_list, path: Path, value: Any, position_context
    ):
        """`value`'s fields executed as graphql-core's complete_object_value does (or an
        awaitable of them), an error among them handled as execute_field and
        complete_list_item_value do: null where `declared` allows it, raised on otherwise."""
        try:
            completed = self.collect_and_execute_subfields(
                object_type, field_details_list, path, value, position_context
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, declared, field_details_list, path)
            return None
        if self.is_awaitable(completed):
            return self._awaited(completed, declared, field_details_list, path)
        return completed

    async def _awaited(self, awaitable, declared: GraphQLOutputType, field_details_list, path: Path) -> Any:
        try:
            return await awaitable
        except Exception as raw_error:
            self.handle_field_error(raw_error, declared, field_details_list, path)
            return None
