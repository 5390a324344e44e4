"""Prometheus metrics (prometheus-client) shared by the services and the gateway.

A service process serves them at `/metrics` on HEALTH_PORT, beside /healthz and /readyz
(medcode_common.health); the gateway at its own `/metrics` (gateway.metrics). Each RPC a
service answers is timed by the platform's RPC entrypoint (medcode_common.nameko_rpc) in
`rpc_request_duration_seconds{service, method, outcome}`: `outcome` is "ok" or the class
name of the error the caller got, so the label has as many values as the contract has
errors. Labels never carry request data.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

# Seconds. RPCs and GraphQL operations take a millisecond or so when all is well, and up
# to an RPC timeout (seconds) when not.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # the text format every Prometheus version reads

# One per service process (the default registry, which also has the process's CPU and memory).
RPC_REQUEST_SECONDS = Histogram(
    "rpc_request_duration_seconds",
    "RPC requests this service answered, from arrival to reply.",
    ["service", "method", "outcome"],
    buckets=LATENCY_BUCKETS,
)


def outcome(exc: BaseException | None) -> str:
    """The `outcome` label of a call that raised `exc` (None: it succeeded)."""
    return "ok" if exc is None else type(exc).__name__


def exposition(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The registry's metrics in the Prometheus text format (CONTENT_TYPE)."""
    return generate_latest(registry)
