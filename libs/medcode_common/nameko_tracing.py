"""The span nameko-opentelemetry opens for each request of the platform's `Rpc`
entrypoint (medcode_common.nameko_rpc), with the attributes it records cheaply.

nameko-opentelemetry's default adapter binds every call's arguments to the method's
signature (`inspect.getcallargs`) only to hand them to the payload recorder, which is off
here (payloads may carry personal data: medcode_common.telemetry). This adapter records the
same attributes without that, and none at all while the tracer provider has no span
processor (spans are then made only so that the trace context propagates).
"""

from __future__ import annotations

from nameko_opentelemetry.entrypoints import EntrypointAdapter
from opentelemetry import trace

from .telemetry import spans_are_recorded


class RpcSpanAdapter(EntrypointAdapter):
    def start_span(self, span, worker_ctx):
        if span.is_recording() and spans_are_recorded(trace.get_tracer_provider()):
            span.set_attributes(self.get_attributes(worker_ctx))

    def end_span(self, span, worker_ctx, result, exc_info):
        if spans_are_recorded(trace.get_tracer_provider()):
            super().end_span(span, worker_ctx, result, exc_info)

    def get_attributes(self, worker_ctx):
        entrypoint = worker_ctx.entrypoint
        if self.config.get("send_request_payloads"):
            return super().get_attributes(worker_ctx)
        attributes = {
            "service_name": worker_ctx.service_name,
            "entrypoint_type": type(entrypoint).__name__,
            "method_name": entrypoint.method_name,
            "active_workers": worker_ctx.container._worker_pool.running(),
            "available_workers": worker_ctx.container._worker_pool.free(),
        }
        attributes.update(self.get_header_attributes(worker_ctx) or {})
        return attributes
