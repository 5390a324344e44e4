"""facts.call_within: only the wait for a reply is cut off by the timeout, never the
request's publish (a timeout inside py-amqp's read of the publish confirmation would leave
the pooled connection mid-frame)."""

from __future__ import annotations

import eventlet
import pytest
from nameko.rpc import Client as NamekoMethodProxy  # a method proxy of ServiceRpc

from assistant.facts import call_within
from medcode_contracts.errors import Unavailable

TIMEOUT = 0.05


class MethodProxy(NamekoMethodProxy):
    """Nameko's method proxy as call_within sees it: `call_async` publishes (here: takes
    `publish_seconds`) and returns the pending call, whose `result()` waits `reply_seconds`."""

    def __init__(self, publish_seconds: float, reply_seconds: float):  # no broker: not Nameko's
        self.service_name, self.method_name = "codes", "get_codes"
        self.publish_seconds, self.reply_seconds = publish_seconds, reply_seconds
        self.published: list = []

    def call_async(self, request):
        eventlet.sleep(self.publish_seconds)
        self.published.append(request)
        return self

    def result(self):
        eventlet.sleep(self.reply_seconds)
        return {"answer": self.published[-1]}

    def __call__(self, request):
        return self.call_async(request).result()


def test_a_publish_slower_than_the_timeout_is_not_cut_off():
    proxy = MethodProxy(publish_seconds=TIMEOUT * 4, reply_seconds=0)
    assert call_within(TIMEOUT, "codes", proxy, {"q": 1}) == {"answer": {"q": 1}}


def test_a_reply_slower_than_the_timeout_is_unavailable():
    proxy = MethodProxy(publish_seconds=0, reply_seconds=TIMEOUT * 20)
    with pytest.raises(Unavailable, match="the codes service did not answer within 0.05 s"):
        call_within(TIMEOUT, "codes", proxy, {"q": 1})
    assert proxy.published == [{"q": 1}]  # the request did go out


def test_a_plain_callable_is_called_within_the_timeout():
    assert call_within(TIMEOUT, "codes", lambda request: {"echo": request}, 7) == {"echo": 7}

    def stuck(request):
        eventlet.sleep(TIMEOUT * 20)

    with pytest.raises(Unavailable):
        call_within(TIMEOUT, "metering", stuck, 7)
