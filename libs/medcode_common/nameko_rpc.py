"""The RPC entrypoint and RPC client every Nameko service of the platform uses instead of
nameko's own:

    from medcode_common.nameko_rpc import ServiceRpc, rpc

    class AssistantService:
        codes_rpc = ServiceRpc("codes")

        @rpc
        def ask(self, request): ...

(A module of its own, apart from medcode_common.rpc, so the gateway's asyncio process never
imports Nameko and eventlet.)

Importing it makes kombu's `json` the platform's codec (medcode_common.codec), so every
service's requests, replies and events are encoded by orjson with the same wire format.
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
import time
from typing import Any

from kombu import Connection
from kombu.pools import producers
from nameko import config
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    DEFAULT_RETRY_POLICY,
    DEFAULT_TRANSPORT_OPTIONS,
    LOGIN_METHOD_CONFIG_KEY,
    PERSISTENT,
)
from nameko.exceptions import UnserializableValueError, serialize
from nameko.rpc import ReplyListener as _NamekoReplyListener
from nameko.rpc import Responder as _NamekoResponder
from nameko.rpc import Rpc as _NamekoRpc
from nameko.rpc import RpcConsumer as _NamekoRpcConsumer
from nameko.rpc import ServiceRpc as _NamekoServiceRpc
from nameko.rpc import get_rpc_exchange

from . import codec
from .metrics import RPC_REQUEST_SECONDS, outcome

log = logging.getLogger(__name__)

codec.register_with_kombu()


class ReplyPublisher:
    """Publishes replies as Nameko's Publisher does (the same kombu producer pool, the same
    message properties, a publish retried over a reconnect by DEFAULT_RETRY_POLICY), but with
    the connection description and exchange made once per consumer instead of per reply.
    Going around Publisher.publish also leaves out nameko-opentelemetry's wrapper of it, which
    wrote the publisher's options, AMQP URI and password included, into the worker's span."""

    def __init__(self, amqp_uri: str, ssl=None, login_method=None):
        self.amqp_uri, self.ssl, self.login_method = amqp_uri, ssl, login_method
        # Replies go without publisher confirms (see Responder).
        options = {**DEFAULT_TRANSPORT_OPTIONS, "confirm_publish": False}
        self.producers = producers[Connection(amqp_uri, transport_options=options, ssl=ssl, login_method=login_method)]
        self.exchange = get_rpc_exchange()

    def publish(self, body: bytes, routing_key: str, correlation_id: str | None) -> None:
        with self.producers.acquire(block=True) as producer:
            producer.publish(
                body,
                exchange=self.exchange,
                routing_key=routing_key,
                correlation_id=correlation_id,
                content_type=codec.CONTENT_TYPE,
                content_encoding=codec.CONTENT_ENCODING,
                headers={},
                delivery_mode=PERSISTENT,
                mandatory=False,
                priority=0,
                retry=True,
                retry_policy=DEFAULT_RETRY_POLICY,
            )


class Responder(_NamekoResponder):
    """Nameko's reply, byte for byte the same message, at half the cost: Nameko encodes the
    result once to check it can be sent and again to send it; this encodes the reply once.
    Replies go without publisher confirms: a confirm makes the worker wait for the broker,
    and a reply the broker loses is a caller's timeout either way (requests keep theirs)."""

    def __init__(self, amqp_uri, exchange, message, ssl=None, login_method=None, *, publisher: ReplyPublisher):
        super().__init__(amqp_uri, exchange, message, ssl=ssl, login_method=login_method)
        self.publisher = publisher

    def send_response(self, result, exc_info):
        if self.message.properties.get("content_type") != codec.CONTENT_TYPE:
            return super().send_response(result, exc_info)
        error = serialize(exc_info[1]) if exc_info is not None else None
        try:
            body = codec.dumps({"result": result, "error": error})
        except Exception:  # noqa: BLE001 - what Nameko does with a result JSON cannot hold
            exc_info = sys.exc_info()
            result, error = None, serialize(UnserializableValueError(result))
            body = codec.dumps({"result": result, "error": error})
        self.publisher.publish(body, self.message.properties["reply_to"], self.message.properties.get("correlation_id"))
        return result, exc_info


class RpcConsumer(_NamekoRpcConsumer):
    """Nameko's RPC consumer, answering through Responder with one ReplyPublisher."""

    def setup(self):
        super().setup()
        self.replies = ReplyPublisher(
            self.amqp_uri, ssl=config.get(AMQP_SSL_CONFIG_KEY), login_method=config.get(LOGIN_METHOD_CONFIG_KEY)
        )

    def handle_result(self, message, result, exc_info):
        replies = self.replies
        responder = Responder(
            replies.amqp_uri,
            replies.exchange,
            message,
            ssl=replies.ssl,
            login_method=replies.login_method,
            publisher=replies,
        )
        result, exc_info = responder.send_response(result, exc_info)
        self.consumer.ack_message(message)
        return result, exc_info


class ReplyListener(_NamekoReplyListener):
    """Nameko's reply listener, without its false alarm while the service starts.

    On every connection Nameko checks that the reply queue still exists while calls wait for
    replies (it expires 5 minutes after its consumer left, replies and all) and kills the
    container if not. But Nameko starts a service's extensions all at once: an RPC entrypoint
    may already run a worker (a request was waiting in the queue, e.g. after a crash) whose
    call registered for its reply before this listener first connected and before the call's
    publish declared the queue. The queue was then missing though nothing was lost, the
    container died, and its start waited for ever for this listener: the assistant restarted
    with mail waiting stayed up and answered nothing. Before the first connection no reply
    can be lost (a call's publish declares the queue before it sends the request), so only a
    reconnection checks."""

    def check_for_lost_replies(self):
        if self.consumer.ready.is_set():  # connected before: the queue may really have expired
            super().check_for_lost_replies()


class ServiceRpc(_NamekoServiceRpc):
    """`nameko.rpc.ServiceRpc`, its replies received by the ReplyListener above."""

    reply_listener = ReplyListener()


class RequestKeepsFailing(Exception):
    """Answered instead of running a request whose handler took its worker down too often."""


class Rpc(_NamekoRpc):
    """`nameko.rpc.Rpc` that never lets one request spin. A handler that raises already
    answers the caller with the error and acknowledges the request (Nameko does that);
    what is left is a request whose handler kills the process (out of memory, a crash in
    a C extension) before it can answer: the broker would hand it to the next replica,
    forever. Quorum queues (production) count such deliveries in `x-delivery-count`;
    at EVENT_MAX_ATTEMPTS the request is answered with RequestKeepsFailing instead.

    It also times every request it answers (medcode_common.metrics.RPC_REQUEST_SECONDS)."""

    rpc_consumer = RpcConsumer()

    def setup(self):
        super().setup()
        from .dead_letters import load_settings

        self.max_deliveries = load_settings().EVENT_MAX_ATTEMPTS
        self._arrived: dict[int, float] = {}  # id(message) -> when it arrived, until it is answered
        self._timers: dict[str, Any] = {}  # outcome -> this method's RPC_REQUEST_SECONDS child

    @functools.cached_property
    def _signature(self) -> inspect.Signature:
        return inspect.signature(getattr(self.container.service_cls, self.method_name))

    def check_signature(self, args, kwargs):
        """Nameko's check (IncorrectSignature, before a worker is spawned), with the method's
        signature read once instead of by `inspect.getcallargs` on every request. A mismatch
        is raised by Nameko's own check, so its message stays Nameko's."""
        try:
            self._signature.bind(None, *args, **kwargs)
        except TypeError:
            super().check_signature(args, kwargs)

    def handle_message(self, body, message):
        self._arrived[id(message)] = time.perf_counter()
        try:
            self._handle_message(body, message)
        except BaseException:  # answered by nameko's consumer, not through handle_result
            self._arrived.pop(id(message), None)
            raise

    def handle_result(self, message, worker_ctx, result, exc_info):
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        finally:
            arrived = self._arrived.pop(id(message), None)
            if arrived is not None:
                self._timer(outcome(exc_info[1] if exc_info else None)).observe(time.perf_counter() - arrived)

    def _timer(self, result: str):
        """This method's histogram for one outcome, looked up once: `labels()` checks and
        locks on every call, a dict lookup does not."""
        timer = self._timers.get(result)
        if timer is None:
            timer = RPC_REQUEST_SECONDS.labels(self.container.service_name, self.method_name, result)
            self._timers[result] = timer
        return timer

    def _handle_message(self, body, message):
        from .dead_letters import DELIVERY_COUNT

        delivered_before = int((message.headers or {}).get(DELIVERY_COUNT) or 0)
        if delivered_before >= self.max_deliveries:
            exc = RequestKeepsFailing(
                f"{self.container.service_name}.{self.method_name}: the request was delivered "
                f"{delivered_before} times without an answer; not running it again"
            )
            log.error("%s", exc)
            self._arrived.pop(id(message), None)
            self.rpc_consumer.handle_result(message, None, (type(exc), exc, None))
            return
        super().handle_message(body, message)


# The platform's RPC entrypoint, used as nameko's.
rpc = Rpc.decorator
