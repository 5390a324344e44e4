"""The answering loop with the services and the relay faked: one reply per mail, retried
while the assistant or the relay is away, a guest answered once, a thread continued, a
refused question answered with the meter's reason."""

from email.message import EmailMessage

import pytest

from mail_ingress.processor import Processor
from mail_ingress.settings import load_mail_settings
from mail_ingress.store import SCHEMA, MailStore
from medcode_common.db import make_engine
from medcode_common.mail import MailRelayUnavailable
from medcode_contracts.errors import RateLimited, Unavailable

ACCOUNT = {
    "id": "u-1",
    "email": "jane@example.org",
    "name": "J",
    "plan": "FREE",
    "role": "MEMBER",
    "created_at": "2026-01-01T00:00:00+00:00",
}


class FakeRpc:
    def __init__(self):
        self.account = ACCOUNT
        self.failure = None
        self.asked: list[dict] = []

    async def call(self, service, method, *, request, timeout=None, op=None):
        if self.failure is not None:
            raise self.failure
        if method == "find_account":
            return self.account
        self.asked.append(request)
        return {
            "id": f"a-{len(self.asked)}",
            "conversation_id": request["conversation_id"] or "c-1",
            "text": f"**Yes.** made-up answer {len(self.asked)}",
            "intent": "BILLABLE",
            "citations": [{"source": "Made-up 2026", "locator": "E11.9", "excerpt": None}],
            "codes": [],
        }


class Relay:
    def __init__(self):
        self.sent: list[EmailMessage] = []
        self.down = False

    def __call__(self, message, relay):
        if self.down:
            raise MailRelayUnavailable("relay away")
        self.sent.append(message)


@pytest.fixture
def parts(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'mail.sqlite3'}")
    SCHEMA.upgrade(engine)
    store, rpc, relay = MailStore(engine), FakeRpc(), Relay()
    settings = load_mail_settings(MAIL_RETRY_SECONDS=0.001, MAIL_RETRY_MAX_SECONDS=0.001)
    yield store, rpc, relay, Processor(store, rpc, settings, "127.0.0.1:1", send=relay)
    engine.dispose()


def incoming(message_id: str, body="Is E11.9 billable?", sender="jane@example.org", in_reply_to=None) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "ask@localhost", "coding"
    message["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    message.set_content(body)
    return bytes(message)


async def drain(processor, rounds=3):
    import asyncio

    for _ in range(rounds):
        await asyncio.sleep(0.01)
        await processor.process_due()


async def test_one_reply_per_mail_even_when_redelivered(parts):
    store, rpc, relay, processor = parts
    store.accept("m1@x", "jane@example.org", incoming("m1@x"))
    await drain(processor)
    store.accept("m1@x", "jane@example.org", incoming("m1@x"))  # redelivered: already stored
    await drain(processor)
    assert len(relay.sent) == 1 and len(rpc.asked) == 1
    assert rpc.asked[0] == {
        "question": "Is E11.9 billable?",
        "conversation_id": None,
        "channel": "email",
        "subject": "u-1",
        "plan": "FREE",
        "user_id": "u-1",
        "request_id": "m1@x",
        "client_ip": None,  # the whole AskRequest, as invoke sends it
    }
    assert "Sources:\n- Made-up 2026: E11.9" in relay.sent[0].get_body(("plain",)).get_content()


@pytest.mark.parametrize("outage", ["assistant", "relay"])
async def test_mail_waits_while_the_assistant_or_relay_is_away(parts, outage):
    store, rpc, relay, processor = parts
    store.accept("m1@x", "jane@example.org", incoming("m1@x"))
    if outage == "assistant":
        rpc.failure = Unavailable("the assistant service did not answer")
    else:
        relay.down = True
    await drain(processor)
    assert relay.sent == [] and store.counts() == {"pending": 1}
    rpc.failure, relay.down = None, False
    await drain(processor)
    assert len(relay.sent) == 1 and store.counts() == {"answered": 1}
    # After a relay outage the assistant was asked again with the same request id: it
    # returns the first answer uncounted (its own test shows that), so nothing doubles.
    assert {r["request_id"] for r in rpc.asked} == {"m1@x"}


async def test_a_reply_in_the_thread_continues_the_conversation(parts):
    store, rpc, relay, processor = parts
    store.accept("m1@x", "jane@example.org", incoming("m1@x"))
    await drain(processor)
    ours = relay.sent[0]["Message-ID"]
    store.accept("m2@x", "jane@example.org", incoming("m2@x", "and with modifier 59?", in_reply_to=ours))
    await drain(processor)
    assert rpc.asked[1]["conversation_id"] == "c-1"


async def test_an_unknown_sender_gets_one_guest_answer(parts):
    store, rpc, relay, processor = parts
    rpc.account = None
    for n in (1, 2):
        store.accept(f"g{n}@x", "stranger@example.net", incoming(f"g{n}@x", sender="stranger@example.net"))
        await drain(processor)
    assert len(rpc.asked) == 1 and rpc.asked[0]["plan"] == "GUEST" and rpc.asked[0]["user_id"] is None
    first, second = (m.get_body(("plain",)).get_content() for m in relay.sent)
    assert "made-up answer" in first and "Register" in first
    assert "Guests get one answer" in second and "made-up" not in second


async def test_a_refused_question_gets_the_meters_reason_once(parts):
    store, rpc, relay, processor = parts
    rpc.failure = None

    async def refuse(service, method, *, request, timeout=None, op=None):
        if method == "find_account":
            return ACCOUNT
        raise RateLimited("Your FREE plan includes 30 questions every 30 days.")

    rpc.call = refuse
    store.accept("m1@x", "jane@example.org", incoming("m1@x"))
    await drain(processor)
    [reply] = relay.sent
    assert "Your FREE plan includes 30 questions" in reply.get_body(("plain",)).get_content()
    assert store.counts() == {"answered": 1}


async def test_auto_replies_are_stored_but_never_answered(parts):
    store, rpc, relay, processor = parts
    message = EmailMessage()
    message["From"], message["Subject"], message["Message-ID"] = "jane@example.org", "Out of office", "<o@x>"
    message["Auto-Submitted"] = "auto-replied"
    message.set_content("away")
    store.accept("o@x", "jane@example.org", bytes(message))
    await drain(processor)
    assert relay.sent == [] and rpc.asked == [] and store.counts() == {"ignored": 1}
