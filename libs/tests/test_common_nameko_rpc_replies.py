"""Replies against the real broker: the same message as Nameko's own Responder sends, and
still delivered after the broker dropped the publisher's connection."""

from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import pytest
from kombu import Connection, Queue
from nameko import config
from nameko.rpc import Responder as NamekoResponder
from nameko.rpc import get_rpc_exchange
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from medcode_common import nameko_rpc
from medcode_common.broker_admin import BrokerAdmin

REPLY_TO = "3f0c1a2e-reply-key"


@pytest.fixture
def reply_queue(rabbit_config):
    with Connection(config["AMQP_URI"]) as connection:
        queue = Queue("replies", get_rpc_exchange(), routing_key=REPLY_TO, channel=connection.default_channel)
        queue.declare()
        yield queue


def request(correlation_id):
    return SimpleNamespace(
        properties={"content_type": "application/json", "reply_to": REPLY_TO, "correlation_id": correlation_id}
    )


def received(queue):
    """The next message of `queue`, waiting a little: a reply goes without a confirm, so it
    may still be on its way."""
    message = Retrying(stop=stop_after_delay(5), wait=wait_fixed(0.05), retry=retry_if_result(lambda m: m is None))(
        queue.get, no_ack=True
    )
    assert message is not None, "no reply arrived"
    return message


def test_a_reply_is_the_message_nameko_sends(reply_queue):
    uri = config["AMQP_URI"]
    result = {"code": "K22.0", "granted": True, "remaining": None}
    NamekoResponder(uri, get_rpc_exchange(), request("c-1")).send_response(result, None)
    theirs = received(reply_queue)
    publisher = nameko_rpc.ReplyPublisher(uri)
    nameko_rpc.Responder(uri, get_rpc_exchange(), request("c-1"), publisher=publisher).send_response(result, None)
    ours = received(reply_queue)
    assert ours.body == theirs.body and ours.headers == theirs.headers == {}
    assert ours.properties == theirs.properties
    assert ours.delivery_info["exchange"] == "nameko-rpc" and ours.delivery_info["routing_key"] == REPLY_TO


def test_a_reply_after_the_broker_dropped_the_connection_still_arrives(reply_queue):
    uri = config["AMQP_URI"]
    publisher = nameko_rpc.ReplyPublisher(uri)
    publisher.publish(b'{"result":1,"error":null}', REPLY_TO, "c-1")
    assert received(reply_queue).properties["correlation_id"] == "c-1"
    admin, vhost = BrokerAdmin(), unquote(urlsplit(uri).path[1:])
    ours = Retrying(
        stop=stop_after_delay(15), wait=wait_fixed(0.25), retry=retry_if_result(lambda found: len(found) < 2)
    )(admin.connections, vhost)  # the publisher's and the test queue's
    for connection in ours:
        admin.close_connection(connection["name"])
    publisher.publish(b'{"result":2,"error":null}', REPLY_TO, "c-2")
    with Connection(uri) as connection:
        queue = Queue("replies", get_rpc_exchange(), routing_key=REPLY_TO, channel=connection.default_channel)
        message = received(queue)
    assert (message.properties["correlation_id"], message.body) == ("c-2", '{"result":2,"error":null}')
