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
reply queue and its binding. Requests are published, and replies consumed, on that
channel's aiormq channel itself: aio-pika's Message, its IncomingMessage and its extra
task per delivery were a tenth of a call's CPU. So the reply consumer is this client's
to restore: again on every reopened channel, and at once when the broker cancels it (the
reply queue was deleted).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aiormq
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, DeliveryError, PublishError
from aiormq.abc import DeliveredMessage
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
        self._reply_queue: aio_pika.abc.AbstractQueue | None = None
        # The channel's aiormq channel, on which requests are published and replies arrive
        # (a new one after every reconnection, see _consume_replies).
        self._raw: aiormq.Channel | None = None
        self._consuming_on: aiormq.abc.AbstractChannel | None = None  # where the reply consumer is
        self._restoring: set[asyncio.Task] = set()
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
        self._reply_queue = await self._channel.declare_queue(
            self.reply_queue_name, durable=False, auto_delete=False, arguments={"x-expires": REPLY_QUEUE_EXPIRES_MS}
        )
        await self._reply_queue.bind(self._exchange, routing_key=self.reply_key)
        await self._consume_replies()
        # The robust channel re-declares the queue and its binding, then calls these.
        self._channel.reopen_callbacks.add(self._on_reopen)

    async def _consume_replies(self) -> None:
        assert self._channel is not None
        # aiormq's own class: its basic_publish takes wait= (the abstract one does not say so).
        raw = cast(aiormq.Channel, await self._channel.get_underlay_channel())
        raw.on_consumer_cancel_callbacks.add(self._on_consumer_cancel)
        if self._consuming_on is not raw:  # once per channel (a reopening and a restore may race)
            self._consuming_on = raw
            try:
                await raw.basic_consume(
                    self.reply_queue_name, self._on_reply, no_ack=True, consumer_tag=self.reply_queue_name
                )
            except BaseException:
                self._consuming_on = None
                raise
        self._raw = raw

    async def _on_reopen(self, _channel: object) -> None:
        await self._consume_replies()

    def _on_consumer_cancel(self, frame: aiormq.spec.Basic.Cancel) -> None:
        # The broker dropped our consumer (the reply queue was deleted): declare it again.
        if frame.consumer_tag == self.reply_queue_name:
            self._consuming_on = None
            task = asyncio.ensure_future(self._restore_reply_queue())
            self._restoring.add(task)
            task.add_done_callback(self._restoring.discard)

    async def _restore_reply_queue(self) -> None:
        assert self._reply_queue is not None and self._exchange is not None
        try:
            await self._reply_queue.declare()
            await self._reply_queue.bind(self._exchange, routing_key=self.reply_key)
            await self._consume_replies()
        except CONNECTION_EXCEPTIONS as exc:  # the channel is going: its reopening consumes again
            log.info("reply queue not restored yet (%s): waiting for the reconnection", type(exc).__name__)

    async def close(self) -> None:
        self._raw = None
        for task in self._restoring:
            task.cancel()
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
    def consuming(self) -> bool:
        """True while requests can be published and their replies arrive: connected, with
        the reply consumer on the live channel (False while a lost connection is restored)."""
        raw = self._raw
        return (
            raw is not None
            and not raw.is_closed
            and self._consuming_on is raw
            and self._connection is not None
            and not self._connection.is_closed
        )

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
        raw = self._raw
        if raw is None:
            raise Unavailable("the RPC client is not connected")
        timeout = self.timeout if timeout is None else timeout
        target = f"{service}.{method}"
        correlation_id = str(uuid.uuid4())
        # What aio-pika's Message would put on the wire (delivery mode 1, priority 0).
        properties = aiormq.spec.Basic.Properties(
            content_type=codec.CONTENT_TYPE,
            content_encoding=codec.CONTENT_ENCODING,
            correlation_id=correlation_id,
            reply_to=self.reply_key,
            headers=context_headers(op or target, context, self.caller),
            delivery_mode=1,
            priority=0,
            # A request nobody picked up in time is dropped by the broker, so a service
            # that comes back does not work through a backlog of abandoned calls.
            expiration=str(int(timeout * 1000)),
        )
        body = codec.dumps({"args": [], "kwargs": kwargs})
        future = asyncio.get_running_loop().create_future()
        self._futures[correlation_id] = future
        self.calls[target] += 1
        try:
            async with asyncio.timeout(timeout):
                # Mandatory, under the channel's publisher confirms: an unroutable request
                # comes back as PublishError (without confirms aiormq drops it silently).
                # wait=False: the confirm comes after the write anyway, so waiting for the
                # socket buffer to drain first only costs another wake-up.
                await raw.basic_publish(
                    body, exchange=RPC_EXCHANGE, routing_key=target, properties=properties, mandatory=True, wait=False
                )
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

    async def _on_reply(self, message: DeliveredMessage) -> None:
        correlation_id = message.header.properties.correlation_id
        future = self._futures.get(correlation_id or "")
        if future is None or future.done():
            log.debug("dropping a reply nobody waits for (timed out?): %s", correlation_id)
            return
        try:
            reply = codec.loads(message.body)
            if not isinstance(reply, dict):
                raise ValueError("reply is not a JSON object")
        except ValueError as exc:
            future.set_exception(Unavailable(f"malformed RPC reply: {exc}"))
            return
        future.set_result(reply)
