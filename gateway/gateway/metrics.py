"""The gateway's /metrics (prometheus-client, Prometheus text format).

- `gateway_graphql_operation_duration_seconds{operation}`: each GraphQL operation, named
  by its type and root fields (`query searchCodes`), not by the client's operation name,
  which any client could vary without bound;
- `gateway_rpc_duration_seconds{service, method, outcome}`: each RPC the gateway made, from
  publish to reply; `outcome` is "ok" or the error's class name (Unavailable, NotFound...);
- `gateway_search_cache_total{result}`: searchCodes answered from the cache (hit) or not;
  `gateway_code_page_cache_total` and `gateway_code_rules_cache_total` the same for code
  pages and their rules sections (gateway.edition_cache);
- the process's CPU and memory.

One registry per app (create_app), so apps made by tests in one process count apart.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from graphql import FieldNode, OperationDefinitionNode
from prometheus_client import CollectorRegistry, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from strawberry.extensions import SchemaExtension

from medcode_common.metrics import CONTENT_TYPE, LATENCY_BUCKETS, exposition

from .edition_cache import EditionCache

__all__ = ["CONTENT_TYPE", "GatewayMetrics", "OperationMetrics"]


class GatewayMetrics:
    def __init__(self, caches: Iterable[EditionCache] = ()):
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.rpc_seconds = Histogram(
            "gateway_rpc_duration_seconds",
            "RPCs the gateway made, from publish to reply (or failure).",
            ["service", "method", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.operation_seconds = Histogram(
            "gateway_graphql_operation_duration_seconds",
            "GraphQL operations, by type and root fields.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        for cache in caches:
            self.registry.register(_CacheCollector(cache))

    def exposition(self) -> bytes:
        return exposition(self.registry)


class _CacheCollector(Collector):
    """Reads a cache's own hit and miss counts at scrape time."""

    def __init__(self, cache: EditionCache):
        self.cache = cache

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(f"gateway_{self.cache.name}_cache", self.cache.description, labels=["result"])
        family.add_metric(["hit"], self.cache.hits)
        family.add_metric(["miss"], self.cache.misses)
        yield family


MAX_NAMED_ROOT_FIELDS = 3  # beyond that, "query (5 root fields)": the label stays bounded


def operation_label(document, operation_name: str | None) -> str:
    """`query searchCodes`, `query code,viewer`, ... (root fields sorted; `unknown` for a
    document that did not parse or names no operation it has)."""
    operations = [d for d in getattr(document, "definitions", ()) if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [d for d in operations if d.name is not None and d.name.value == operation_name]
    if len(operations) != 1:
        return "unknown"
    operation = operations[0]
    fields = sorted({s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)})
    if len(fields) > MAX_NAMED_ROOT_FIELDS:
        return f"{operation.operation.value} ({len(fields)} root fields)"
    return f"{operation.operation.value} {','.join(fields)}"


class OperationMetrics(SchemaExtension):
    """Times each operation into the app's GatewayMetrics (`app.state.metrics`)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context.context
        app = getattr(getattr(context, "request", None), "scope", {}).get("app")  # none in schema-only tests
        metrics = getattr(getattr(app, "state", None), "metrics", None)
        if isinstance(metrics, GatewayMetrics):
            label = operation_label(self.execution_context.graphql_document, self.execution_context.operation_name)
            metrics.operation_seconds.labels(label).observe(time.perf_counter() - started)
