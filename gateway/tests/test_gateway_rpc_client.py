"""The RPC client against the real broker, with a tiny nameko-compatible responder
written with aio-pika (gateway.testing.FakeService; the wire format of the guide §3)."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import aio_pika
import pytest
from opentelemetry.sdk.trace import TracerProvider

from gateway.testing import FakeService
from medcode_common.aio_rpc import RemoteError, RpcClient, UnknownService
from medcode_contracts.errors import NotFound, Unavailable

pytestmark = pytest.mark.rabbit


class Boom(Exception):
    """Not a contract error: comes back as a RemoteError."""


async def echo(kwargs):
    return kwargs


async def slow_echo(kwargs):
    await asyncio.sleep(kwargs["seconds"])
    return kwargs


async def fail_known(kwargs):
    raise NotFound("code X99 missing")


async def fail_unknown(kwargs):
    raise Boom("it broke")


def Responder(amqp_uri: str) -> FakeService:
    return FakeService(
        amqp_uri, "echo", {"echo": echo, "slow_echo": slow_echo, "fail_known": fail_known, "fail_unknown": fail_unknown}
    )


@pytest.fixture(scope="module")
async def responder(amqp_uri):
    responder = Responder(amqp_uri)
    await responder.start()
    yield responder
    await responder.stop()


@pytest.fixture(scope="module")
async def client(amqp_uri, responder):
    async with RpcClient(amqp_uri, timeout=5) as client:
        yield client


async def test_result_and_wire_format(client, responder):
    result = await client.call("echo", "echo", request={"query": "achalasia", "first": 3})

    assert result == {"request": {"query": "achalasia", "first": 3}}
    message = responder.received[-1]
    assert json.loads(message.body) == {"args": [], "kwargs": {"request": {"query": "achalasia", "first": 3}}}
    assert message.content_type == "application/json"
    assert message.content_encoding == "utf-8"
    assert message.reply_to == client.reply_key
    assert message.correlation_id and message.message_id  # the return of an unroutable call is matched by it
    assert message.delivery_mode == aio_pika.DeliveryMode.NOT_PERSISTENT
    assert message.expiration == 5.0  # the call's timeout: a request nobody took in time is dropped
    stack = message.headers["nameko.call_id_stack"]
    assert len(stack) == 1 and stack[0].startswith("gateway.echo.echo.")
    assert "nameko.traceparent" not in message.headers  # no active span


async def test_headers_are_whitelisted_and_carry_the_trace(client, responder):
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        await client.call("echo", "echo", op="searchCodes", context={"user_id": "u-1", "password": "nope"})
        trace_id = format(span.get_span_context().trace_id, "032x")

    headers = responder.received[-1].headers
    assert headers["nameko.user_id"] == "u-1"
    assert "nameko.password" not in headers and "password" not in headers
    assert trace_id in headers["nameko.traceparent"]
    assert headers["nameko.call_id_stack"][0].startswith("gateway.searchCodes.")


async def test_contract_errors_come_back_as_the_same_class(client):
    with pytest.raises(NotFound) as caught:
        await client.call("echo", "fail_known")
    assert caught.value.code == "NOT_FOUND"
    assert str(caught.value) == "code X99 missing"


async def test_other_remote_errors_become_remote_error(client):
    with pytest.raises(RemoteError) as caught:
        await client.call("echo", "fail_unknown")
    assert caught.value.exc_type == "Boom"
    assert caught.value.exc_path.endswith(".Boom")
    assert "it broke" in str(caught.value)


async def test_unknown_service_fails_at_once(client):
    with pytest.raises(UnknownService) as caught:
        await client.call("nosuchservice", "health", timeout=30)
    assert isinstance(caught.value, Unavailable)
    assert caught.value.code == "UNAVAILABLE"
    assert client.pending == 0


async def test_service_down_times_out_as_unavailable_and_cleans_up(client, amqp_uri):
    # The queue exists (the service ran once) but nobody consumes it.
    async with await aio_pika.connect(amqp_uri) as connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange("nameko-rpc", aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue("rpc-sleepy", durable=True)
        await queue.bind(exchange, "sleepy.*")

    with pytest.raises(Unavailable, match="sleepy service did not answer health"):
        await client.call("sleepy", "health", timeout=0.3)
    assert client.pending == 0


async def test_a_late_reply_is_dropped_and_the_client_keeps_working(client):
    with pytest.raises(Unavailable):
        await client.call("echo", "slow_echo", seconds=0.5, timeout=0.1)
    assert client.pending == 0
    await asyncio.sleep(0.7)  # let the late reply arrive
    assert await client.call("echo", "echo", after="late") == {"after": "late"}
    assert client.pending == 0


async def test_concurrent_calls_are_correlated(client):
    async def one(i: int):
        return i, await client.call("echo", "slow_echo", seconds=(i % 5) / 100, value=i)

    results = await asyncio.gather(*(one(i) for i in range(60)))

    assert all(result == {"seconds": (i % 5) / 100, "value": i} for i, result in results)
    assert client.pending == 0


async def test_counters_count_published_calls(client):
    before = client.calls["echo.echo"]
    await asyncio.gather(client.call("echo", "echo"), client.call("echo", "echo"))
    assert client.calls["echo.echo"] == before + 2


async def test_not_started_client_is_unavailable():
    with pytest.raises(Unavailable):
        await RpcClient("amqp://guest:guest@127.0.0.1:5672/").call("echo", "echo")


async def echo_once_answered(client, n: int, attempts: int = 50, timeout: float = 0.5, pause: float = 0.1):
    """The echo of `n`, called again while the client or the echo service is still
    reconnecting (Unavailable), at most `attempts` times; None when it never answers."""
    for _ in range(attempts):
        try:
            return await client.call("echo", "echo", n=n, timeout=timeout)
        except Unavailable:
            await asyncio.sleep(pause)
    return None


async def test_reconnects_after_the_broker_drops_the_connection(amqp_uri, responder, vhost):
    async with RpcClient(amqp_uri, timeout=2) as client:
        assert await client.call("echo", "echo", n=1) == {"n": 1}
        # As after a broker restart: the connection drops and the reply queue is gone.
        vhost.delete_queue(client.reply_queue_name)
        assert vhost.close_connections() >= 1

        # The robust connection reconnects in the background.
        assert await echo_once_answered(client, n=2, attempts=100, timeout=1, pause=0.2) == {"n": 2}
        queues = {q["name"] for q in vhost.get("queues")}
        assert client.reply_queue_name in queues


async def test_consuming_says_whether_calls_can_go_out_while_the_broker_is_lost(amqp_uri, responder, vhost):
    client = RpcClient(amqp_uri, timeout=2)
    assert not client.consuming  # not started
    user = urlsplit(amqp_uri).username or "guest"

    async def until(condition, seconds: float = 15.0) -> None:
        for _ in range(int(seconds / 0.1)):
            if condition():
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the client's state did not change in time")

    async with client:
        assert client.consuming
        vhost.admin.delete_vhost_permissions(vhost.name, user)  # reconnecting is refused...
        vhost.close_connections()
        await until(lambda: not client.consuming)
        await asyncio.sleep(1.5)  # ...for several reconnection attempts
        assert not client.consuming
        vhost.admin.set_vhost_permissions(vhost.name, user)
        await until(lambda: client.consuming)
        assert await echo_once_answered(client, n=3) == {"n": 3}  # the echo service reconnects on its own time
    assert not client.consuming  # closed


async def test_a_deleted_reply_queue_is_declared_again_without_a_reconnection(amqp_uri, responder, vhost):
    async with RpcClient(amqp_uri, timeout=2) as client:
        assert await client.call("echo", "echo", n=1) == {"n": 1}
        vhost.delete_queue(client.reply_queue_name)  # the broker cancels the reply consumer

        assert await echo_once_answered(client, n=2) == {"n": 2}
        assert client.reply_queue_name in {q["name"] for q in vhost.get("queues")}
