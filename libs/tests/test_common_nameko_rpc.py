"""The platform's Rpc entrypoint: Nameko's signature check and errors, cheaper, and the
span attributes it records."""

from types import SimpleNamespace

import pytest
from nameko.containers import ServiceContainer
from nameko.exceptions import IncorrectSignature
from nameko.rpc import Rpc as NamekoRpc
from nameko.testing.utils import get_extension
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from medcode_common import nameko_rpc, nameko_tracing


class Service:
    name = "probe"

    @nameko_rpc.rpc
    def look_up(self, request, first=10): ...

    @NamekoRpc.decorator
    def nameko_look_up(self, request, first=10): ...


@pytest.fixture
def entrypoints():
    container = ServiceContainer(Service)  # the entrypoints hold it by a weak reference
    yield (
        get_extension(container, nameko_rpc.Rpc, method_name="look_up"),
        get_extension(container, NamekoRpc, method_name="nameko_look_up"),
    )
    del container


CALLS = [((), {"request": {}}), (({},), {}), (({}, 5), {}), ((), {"request": {}, "first": 3})]
WRONG = [((), {}), ((), {"query": "x"}), (({}, 1, 2), {}), (({},), {"request": {}})]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_a_call_that_fits_passes_without_getcallargs(entrypoints, args, kwargs, monkeypatch):
    ours, _ = entrypoints
    monkeypatch.setattr("inspect.getcallargs", lambda *a, **k: pytest.fail("getcallargs on a call that fits"))
    ours.check_signature(list(args), kwargs)


@pytest.mark.parametrize(("args", "kwargs"), WRONG)
def test_a_call_that_does_not_fit_is_nameko_s_incorrect_signature(entrypoints, args, kwargs):
    ours, nameko = entrypoints
    with pytest.raises(IncorrectSignature) as our_error:
        ours.check_signature(list(args), kwargs)
    with pytest.raises(IncorrectSignature) as nameko_error:
        nameko.check_signature(list(args), kwargs)
    assert str(our_error.value) == str(nameko_error.value).replace("nameko_look_up", "look_up")


def _worker_ctx(entrypoint):
    pool = SimpleNamespace(running=lambda: 1, free=lambda: 9)
    return SimpleNamespace(
        entrypoint=entrypoint,
        service_name="probe",
        container=SimpleNamespace(_worker_pool=pool),
        data={},
        args=(),
        kwargs={"request": {"password": "secret"}},
    )


def test_span_attributes_name_the_call_without_its_payload(entrypoints, monkeypatch):
    ours, _ = entrypoints
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(nameko_tracing.trace, "get_tracer_provider", lambda: provider)
    adapter = nameko_tracing.RpcSpanAdapter({"send_request_payloads": False})
    span = provider.get_tracer("t").start_span("probe.look_up")
    adapter.start_span(span, _worker_ctx(ours))
    adapter.end_span(span, _worker_ctx(ours), None, None)
    span.end()
    [finished] = exporter.get_finished_spans()
    assert dict(finished.attributes) == {
        "service_name": "probe",
        "entrypoint_type": "Rpc",
        "method_name": "look_up",
        "active_workers": 1,
        "available_workers": 9,
    }
    assert finished.status.is_ok


def test_no_attributes_are_collected_for_spans_that_go_nowhere(entrypoints, monkeypatch):
    ours, _ = entrypoints
    provider = TracerProvider()  # no processor
    monkeypatch.setattr(nameko_tracing.trace, "get_tracer_provider", lambda: provider)
    adapter = nameko_tracing.RpcSpanAdapter({})
    monkeypatch.setattr(adapter, "get_attributes", lambda ctx: pytest.fail("attributes collected"))
    span = provider.get_tracer("t").start_span("probe.look_up")
    adapter.start_span(span, _worker_ctx(ours))
    adapter.end_span(span, _worker_ctx(ours), None, None)


def test_service_tracing_uses_the_adapter_and_leaves_publishes_alone():
    """In a process of its own: instrumenting patches nameko for the whole process."""
    import subprocess
    import sys

    probe = (
        "from medcode_common.telemetry import instrument_nameko\n"
        "instrument_nameko('probe')\n"
        "import nameko.amqp.publish, nameko.containers\n"
        "from nameko_opentelemetry import entrypoints\n"
        "from medcode_common import nameko_rpc, nameko_tracing\n"
        "assert entrypoints.adapter_types[nameko_rpc.Rpc] is nameko_tracing.RpcSpanAdapter\n"
        "assert hasattr(nameko.containers.ServiceContainer._worker_setup, '__wrapped__')\n"
        "assert not hasattr(nameko.amqp.publish.Publisher.publish, '__wrapped__')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
