"""OpenTelemetry setup shared by the services and the gateway.

A trace starts in the gateway and crosses the broker as the `nameko.traceparent` header
(W3C trace context), which nameko-opentelemetry reads on the service side and writes on
every downstream RPC and event. Exporters are chosen by environment:

- OTEL_EXPORTER_OTLP_ENDPOINT set: OTLP (if the exporter package is installed);
- MEDCODE_TRACE_FILE set: one JSON line per finished span (tests and local debugging);
- neither: spans are created (so context propagates) but not exported.

Payloads and headers are never recorded: they may carry personal data.
"""

from __future__ import annotations

import json
import os
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

_configured = False


def json_line(span: ReadableSpan) -> str:
    """One finished span as a line of JSON (MEDCODE_TRACE_FILE): who, what, where in the trace."""
    ctx = span.get_span_context()
    assert ctx is not None and span.start_time is not None and span.end_time is not None  # a finished span
    return (
        json.dumps(
            {
                "service": span.resource.attributes.get("service.name"),
                "name": span.name,
                "kind": span.kind.name,
                "trace_id": format(ctx.trace_id, "032x"),
                "span_id": format(ctx.span_id, "016x"),
                "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
                "start_ns": span.start_time,
                "duration_ms": round((span.end_time - span.start_time) / 1e6, 3),
            }
        )
        + "\n"
    )


def spans_are_recorded(provider: Any) -> bool:
    """False only for the SDK's tracer provider without any span processor: its spans go nowhere.
    (Anything else, a provider of another kind included, counts as recording.)"""
    processors = getattr(getattr(provider, "_active_span_processor", None), "_span_processors", None)
    return processors is None or bool(processors)


def configure_tracing(service_name: str) -> None:
    """Install the tracer provider once per process."""
    global _configured
    if _configured:
        return
    _configured = True
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    trace_file = os.environ.get("MEDCODE_TRACE_FILE")
    if trace_file:
        # Appends, one line per span, flushed at once: the processes of a test stack share the file.
        out = open(trace_file, "a", encoding="utf-8", buffering=1)  # open for the process's life
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out, formatter=json_line)))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError:  # exporter is an optional extra for deployments
            pass
        else:
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def instrument_nameko(service_name: str) -> None:
    """Trace RPCs, events and timers of a Nameko service (payloads off)."""
    configure_tracing(service_name)
    from nameko_opentelemetry import NamekoInstrumentor

    NamekoInstrumentor().instrument(
        send_headers=False,
        send_request_payloads=False,
        send_response_payloads=False,
        # The platform's own Rpc entrypoint (a subclass: adapters are looked up by exact type).
        entrypoint_adapters={"medcode_common.nameko_rpc.Rpc": "medcode_common.nameko_tracing.RpcSpanAdapter"},
    )
    # Its wrapper of nameko's Publisher.publish only copies the publisher's options into the
    # current span, the AMQP URI with its password among them (the outbox relay publishes
    # inside requests): off. Trace context still travels with every RPC and event.
    from nameko_opentelemetry import amqp

    amqp.uninstrument()
