"""A service's /metrics (on HEALTH_PORT, beside its probes): the platform's RPC entrypoint
times each request it answers, per service, method and outcome."""

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcClient
from prometheus_client.parser import text_string_to_metric_families

from medcode_common.health import make_app
from medcode_common.nameko_rpc import rpc

pytestmark = pytest.mark.rabbit


class TimedService:
    name = "timed"

    @rpc
    def echo(self, value):
        return value

    @rpc
    def refuse(self):
        raise ValueError("no")


def scrape() -> tuple[str, dict[tuple, float]]:
    answer: dict = {}

    def start_response(status, headers):
        answer.update(status=status, headers=dict(headers))

    text = b"".join(make_app(None, "amqp://unused")({"PATH_INFO": "/metrics"}, start_response)).decode()
    assert answer["status"] == "200 OK" and answer["headers"]["Content-Type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return text, samples


def count(samples: dict, method: str, outcome: str) -> float:
    key = ("rpc_request_duration_seconds_count", (("method", method), ("outcome", outcome), ("service", "timed")))
    return samples.get(key, 0.0)


def test_metrics_show_a_latency_histogram_per_rpc_after_a_request(rabbit_config, container_factory):
    _, before = scrape()
    container_factory(TimedService).start()
    with ServiceRpcClient("timed") as client:
        assert client.echo("a") == "a" and client.echo("b") == "b"
        with pytest.raises(RemoteError):
            client.refuse()
    text, after = scrape()
    assert count(after, "echo", "ok") - count(before, "echo", "ok") == 2
    assert count(after, "refuse", "ValueError") - count(before, "refuse", "ValueError") == 1
    assert 'rpc_request_duration_seconds_bucket{le="0.005",method="echo",outcome="ok",service="timed"}' in text
    assert "process_resident_memory_bytes" in text  # the process's own memory, for free
