"""Parsing and validating a query text once: `DocumentCache`, a schema extension.

Strawberry's ParserCache keys its cache by the query text, but its ValidationCache keys its
own by the parsed document, whose hash walks the whole syntax tree on every request (about
a tenth of a code page's GraphQL work). Here one entry per exact query text, parse options,
validation rules and schema holds both the document and its validation errors, so a query
sent again costs one dict lookup. Every query text is still validated the first time it is
seen, against the same rules; a text that fails to parse is never kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from graphql import DocumentNode, GraphQLError
from strawberry.extensions import SchemaExtension

DOCUMENTS_KEPT = 256


class _Entry:
    __slots__ = ("document", "errors")

    def __init__(self, document: DocumentNode):
        self.document = document
        self.errors: list[GraphQLError] | None = None  # None: not validated yet


_kept: OrderedDict[tuple, _Entry] = OrderedDict()


class DocumentCache(SchemaExtension):
    """Give each request the document and validation errors of its query text, when kept.
    List it after the extensions that set parse options or validation rules (their
    on_operation runs first): both are part of the key."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._entry: _Entry | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None and context.graphql_document is None:
            self._key = (
                context.schema._schema,
                context.validation_rules,
                tuple(context.parse_options.items()),
                context.query,
            )
            self._entry = _kept.get(self._key)
            if self._entry is not None:
                _kept.move_to_end(self._key)
                context.graphql_document = self._entry.document
        yield
        if self._key is not None and self._entry is None and context.graphql_document is not None:
            self._entry = _Entry(context.graphql_document)
            _kept[self._key] = self._entry
            while len(_kept) > DOCUMENTS_KEPT:
                _kept.popitem(last=False)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        entry = self._entry
        if entry is None or entry.document is not context.graphql_document:
            yield  # not a kept document (another extension set one): validated as usual, not kept
            return
        if entry.errors is not None:
            # Strawberry validates only while pre_execution_errors is None; each request gets
            # a list of its own (the errors in it are never changed).
            context.pre_execution_errors = list(entry.errors)
            yield
            return
        yield
        entry.errors = list(context.pre_execution_errors or [])
