"""The public GraphQL schema (/work/shared/contract/schema.graphql), one module per domain
merged into Query / Mutation / Subscription."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from ..limits import OneMutationRule
from ..metrics import OperationMetrics
from .accounts import AccountsMutation, AccountsQuery
from .assistant import AssistantMutation, AssistantQuery, AssistantSubscription
from .careers import CareersMutation, CareersQuery, CareersSubscription
from .claims import ClaimsQuery
from .codes.queries import CodesQuery
from .documents import DocumentCache
from .errors import ErrorCodes, log_unexpected
from .execution import Executor
from .hooks import ExtensionsRunner

Query = merge_types("Query", (CodesQuery, ClaimsQuery, AccountsQuery, CareersQuery, AssistantQuery))
Mutation = merge_types("Mutation", (AccountsMutation, AssistantMutation, CareersMutation))
Subscription = merge_types("Subscription", (AssistantSubscription, CareersSubscription))

# Protections: the deepest contract query (code -> children -> ...) is shallow; a client
# needs no more aliases than a screen of codes; a token cap bounds parsing work.
MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 2000
# A JSON array of operations in one POST (HTTP batching) shares one context: its code
# pages are loaded and metered together, each counted once.
MAX_BATCH_OPERATIONS = 10


# The depth and alias limits are validation rules. Their classes are built once here:
# the document cache is keyed by the rule classes, so a fresh class per request (what
# a fresh QueryDepthLimiter makes) would miss the cache every time.
LIMIT_RULES = (
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
    OneMutationRule,  # one password hash (login, register) per request at most
)


class RequestLimits(AddValidationRules):
    def __init__(self) -> None:
        super().__init__(list(LIMIT_RULES))


class Schema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        log_unexpected(errors)

    def create_extensions_runner(self, execution_context, extensions) -> ExtensionsRunner:
        # The extensions' hooks wrapped once per class, not per request (schema.hooks).
        return ExtensionsRunner(execution_context=execution_context, extensions=extensions)


def build_schema(introspection: bool = True) -> Schema:
    """The schema; `introspection=False` (production) refuses __schema and __type."""
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(batching_config={"max_operations": MAX_BATCH_OPERATIONS}),
        execution_context_class=Executor,  # plain leaf fields on a shorter way (schema.execution)
        # Factories, not instances: Strawberry gives each request its own extension
        # objects, which hold that request's execution context. A shared instance lets
        # concurrent requests see each other's context (lost error codes, or worse).
        # The document cache lives at module level, shared all the same.
        extensions=[
            OperationMetrics,  # first: its time covers every other extension's work
            RequestLimits,
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            ErrorCodes,
            *([] if introspection else [DisableIntrospection]),
            # Last: the limits above set the parse options and rules it is keyed by. Parsing
            # and validating the same document again costs more than running it.
            DocumentCache,
        ],
    )
