"""The RPC client's reply listener against the real broker: a call registered before the
listener first connected (a worker of an entrypoint that started first) gets its reply and
does not kill the service; a reply queue gone after a reconnection still does, as in Nameko."""

import eventlet
import pytest
from kombu import Connection
from nameko import config
from nameko.exceptions import ReplyQueueExpiredWithPendingReplies
from nameko.testing.utils import get_extension

from medcode_common import codec, nameko_rpc

# Guards against a start that never returns (what Nameko's own listener does here), so the
# test fails instead of hanging; nothing is timed.
HANG_GUARD = 15


class Caller:
    name = "caller"

    other = nameko_rpc.ServiceRpc("other")


@pytest.fixture
def listener(rabbit_config, container_factory):
    container = container_factory(Caller)
    listener = get_extension(container, nameko_rpc.ReplyListener)
    listener.setup()
    return listener


def test_a_call_registered_before_the_listener_first_connects_gets_its_reply(listener):
    # The reply queue does not exist yet: neither the listener nor the call's publish made it.
    waiting = listener.register_for_reply("call-1")
    with eventlet.Timeout(HANG_GUARD):
        listener.start()
    assert not listener.container._died.ready()
    nameko_rpc.ReplyPublisher(config["AMQP_URI"]).publish(
        codec.dumps({"result": "answer", "error": None}), listener.routing_key, "call-1"
    )
    with eventlet.Timeout(HANG_GUARD):
        assert waiting() == {"result": "answer", "error": None}


def test_a_reply_queue_gone_after_the_first_connection_is_still_lost_replies(listener):
    with eventlet.Timeout(HANG_GUARD):
        listener.start()
    listener.register_for_reply("call-2")
    with Connection(config["AMQP_URI"]) as connection:
        listener.queue.bind(connection.default_channel).delete()
    with pytest.raises(ReplyQueueExpiredWithPendingReplies, match="call-2"):
        listener.check_for_lost_replies()
