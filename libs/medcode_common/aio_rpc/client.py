"""An asyncio client of Nameko's AMQP RPC protocol, on aio-pika.

Wire protocol (nameko 2.14 / 3.0, see the style guide §3):
- requests go to the topic exchange `nameko-rpc` with routing key `{service}.{method}`,
  mandatory, under publisher confirms (an unroutable request comes back as NO_ROUTE);
  body `{"args": [], "kwargs": {...}}`, properties reply_to / correlation_id /
  content_type application/json / content_encoding utf-8;
- replies come back through `nameko-rpc` with routing key = our reply_to, into ONE reply
  queue per process (`rpc.reply-gateway-{uuid}`, x-expires) bound by that uuid;
  body `{"result": ..., "error": null | {exc_type, exc_path, exc_args, value}}`.

One robust connection, one channel and one reply queue per process: a call costs one
publish (plus its confirm) and one dict lookup, nothing is set up per request. aio-pika's
robust connection reconnects after a broker restart and re-declares the exchange, the
reply queue, its binding and its consumer.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, DeliveryError, PublishError
from opentelemetry import propagate, trace
from prometheus_client import Histogram
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from medcode_common.metrics import outcome
from medcode_contracts.errors import Unavailable

from .. import codec
from .errors import UnknownService, deserialize

log = logging.getLogger(__name__)

RPC_EXCHANGE = "nameko-rpc"
HEADER_PREFIX = "nameko."
# Nameko re-sends every context header on every downstream call and event, so only these
# keys ever leave the caller (anything else a caller passes is dropped).
CONTEXT_WHITELIST = frozenset({"call_id_stack", "traceparent", "tracestate", "user_id", "language"})
REPLY_QUEUE_EXPIRES_MS = 300_000
RECONNECT_INTERVAL = 1.0  # seconds between reconnection attempts after a broker restart


def amqp_url(uri: str) -> str:
    """aio-pika speaks amqp(s)://; kombu's `pyamqp://` spelling means the same thing."""
    parts = urlsplit(uri)
    if parts.scheme == "pyamqp":
        parts = parts._replace(scheme="amqp")
    return urlunsplit(parts)


def context_headers(op: str, context: dict[str, Any] | None = None, caller: str = "gateway") -> dict[str, Any]:
    """The `nameko.*` headers of one call: a call id, the trace context when a span is
    active, and whitelisted context keys the caller passes (e.g. user_id)."""
    data: dict[str, Any] = {}
    if context:
        data.update((k, v) for k, v in context.items() if k in CONTEXT_WHITELIST and v is not None)
    data["call_id_stack"] = [f"{caller}.{op}.{uuid.uuid4()}"]
    if trace.get_current_span().get_span_context().is_valid:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        data.update((k, v) for k, v in carrier.items() if k in CONTEXT_WHITELIST)
    return {HEADER_PREFIX + key: value for key, value in data.items()}


class RpcClient:
    """Call nameko services: `await client.call("codes", "search_codes", request={...})`."""

    def __init__(
        self,
        amqp_uri: str,
        *,
        timeout: float = 5.0,
        caller: str = "gateway",
        connect_timeout: float = 10.0,
        latency: Histogram | None = None,
    ):
        self.amqp_uri = amqp_url(amqp_uri)
        self.timeout = timeout
        self.caller = caller
        self.connect_timeout = connect_timeout
        self.reply_key = str(uuid.uuid4())
        self.reply_queue_name = f"rpc.reply-{caller}-{self.reply_key}"
        self._futures: dict[str, asyncio.Future] = {}
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._channel: aio_pika.abc.AbstractRobustChannel | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None
        # "service.method" -> number of requests published, for tests that check batching.
        self.calls: Counter[str] = Counter()
        # Each call's seconds, by service, method and outcome (gateway.metrics).
        self.latency = latency

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        # The broker may still be starting next to us: retry the first connection for up
        # to connect_timeout (later losses are the robust connection's business).
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(self.connect_timeout),
            wait=wait_fixed(RECONNECT_INTERVAL),
            retry=retry_if_exception_type(CONNECTION_EXCEPTIONS),
            reraise=True,
        ):
            with attempt:
                self._connection = await aio_pika.connect_robust(
                    self.amqp_uri,
                    reconnect_interval=RECONNECT_INTERVAL,
                    timeout=self.connect_timeout,
                    client_properties={"connection_name": self.reply_queue_name},
                )
        assert self._connection is not None  # the retry above re-raises when it never connects
        self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        self._exchange = await self._channel.declare_exchange(RPC_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await self._channel.declare_queue(
            self.reply_queue_name, durable=False, auto_delete=False, arguments={"x-expires": REPLY_QUEUE_EXPIRES_MS}
        )
        await queue.bind(self._exchange, routing_key=self.reply_key)
        await queue.consume(self._on_reply, no_ack=True)

    async def close(self) -> None:
        for future in self._futures.values():
            if not future.done():
                future.set_exception(Unavailable(f"the {self.caller} is shutting down"))
        self._futures.clear()
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def __aenter__(self) -> RpcClient:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @property
    def connection(self) -> aio_pika.abc.AbstractRobustConnection | None:
        """The one broker connection of this process (event subscribers share it)."""
        return self._connection

    @property
    def pending(self) -> int:
        """Calls waiting for a reply (0 when every timed-out call was cleaned up)."""
        return len(self._futures)

    # -- calls -----------------------------------------------------------------------
    async def call(
        self,
        service: str,
        method: str,
        *,
        timeout: float | None = None,
        context: dict[str, Any] | None = None,
        op: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Call `service.method(**kwargs)` and return its result.

        Raises the contract error class the service raised (medcode_contracts.errors),
        RemoteError for any other remote error, UnknownService when no queue is bound,
        and Unavailable when no reply comes within `timeout` (default: the client's).
        """
        if self.latency is None:
            return await self._call(service, method, timeout=timeout, context=context, op=op, **kwargs)
        started, failure = time.perf_counter(), None
        try:
            return await self._call(service, method, timeout=timeout, context=context, op=op, **kwargs)
        except Exception as exc:
            failure = exc
            raise
        finally:
            self.latency.labels(service, method, outcome(failure)).observe(time.perf_counter() - started)

    async def _call(
        self,
        service: str,
        method: str,
        *,
        timeout: float | None,
        context: dict[str, Any] | None,
        op: str | None,
        **kwargs: Any,
    ) -> Any:
        if self._exchange is None:
            raise Unavailable("the RPC client is not connected")
        timeout = self.timeout if timeout is None else timeout
        target = f"{service}.{method}"
        correlation_id = str(uuid.uuid4())
        message = aio_pika.Message(
            codec.dumps({"args": [], "kwargs": kwargs}),
            content_type=codec.CONTENT_TYPE,
            content_encoding=codec.CONTENT_ENCODING,
            correlation_id=correlation_id,
            reply_to=self.reply_key,
            headers=context_headers(op or target, context, self.caller),
            # A request nobody picked up in time is dropped by the broker, so a service
            # that comes back does not work through a backlog of abandoned calls.
            expiration=timeout,
        )
        future = asyncio.get_running_loop().create_future()
        self._futures[correlation_id] = future
        self.calls[target] += 1
        try:
            async with asyncio.timeout(timeout):
                await self._exchange.publish(message, routing_key=target, mandatory=True)
                reply = await future
        except TimeoutError:
            raise Unavailable(f"the {service} service did not answer {method} within {timeout:g} s") from None
        except PublishError:
            raise UnknownService(f"the {service} service is not running (no queue for {target})") from None
        except (DeliveryError, *CONNECTION_EXCEPTIONS) as exc:
            # Includes a channel that is closed while the robust connection reconnects.
            raise Unavailable(f"the message broker is not reachable ({type(exc).__name__})") from None
        finally:
            self._futures.pop(correlation_id, None)
        error = reply.get("error")
        if error:
            raise deserialize(error)
        return reply.get("result")

    def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._futures.get(message.correlation_id or "")
        if future is None or future.done():
            log.debug("dropping a reply nobody waits for (timed out?): %s", message.correlation_id)
            return
        try:
            reply = codec.loads(message.body)
            if not isinstance(reply, dict):
                raise ValueError("reply is not a JSON object")
        except ValueError as exc:
            future.set_exception(Unavailable(f"malformed RPC reply: {exc}"))
            return
        future.set_result(reply)
