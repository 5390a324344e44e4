"""The SMTP listener: 250 only once the mail is stored (451 when the store fails, so the
sender keeps it), 552 over the size limit, 550 for any other mailbox."""

import asyncio
import smtplib

import pytest

from gateway.testing import free_port
from mail_ingress.server import IngressHandler, start_listener

RAW = b"From: jane@example.org\r\nTo: ask@localhost\r\nMessage-ID: <m1@x>\r\nSubject: q\r\n\r\nIs E11.9 billable?\r\n"


class Store:
    def __init__(self, fail=False):
        self.fail = fail
        self.stored = []

    def accept(self, message_id, envelope_sender, raw):
        if self.fail:
            raise OSError("disk full")
        self.stored.append((message_id, envelope_sender, raw))
        return True


async def listening(store, max_bytes=4096):
    port = free_port()
    woken = []
    server = await start_listener(
        IngressHandler(store, "ask@localhost", max_bytes, lambda: woken.append(1)), "127.0.0.1", port, max_bytes
    )
    return server, port, woken


def send(port, raw=RAW, to=("ask@localhost",)):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        return smtp.sendmail("jane@example.org", list(to), raw)


async def test_the_mail_is_stored_before_250():
    store = Store()
    server, port, woken = await listening(store)
    try:
        await asyncio.to_thread(send, port)
    finally:
        server.close()
    assert store.stored == [("m1@x", "jane@example.org", RAW)] and woken == [1]


async def test_a_store_failure_is_a_temporary_refusal():
    server, port, _ = await listening(Store(fail=True))
    try:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            await asyncio.to_thread(send, port)
    finally:
        server.close()
    assert refused.value.smtp_code == 451


async def test_too_big_and_wrong_mailbox_are_refused():
    store = Store()
    server, port, _ = await listening(store, max_bytes=1024)
    try:
        with pytest.raises(smtplib.SMTPException):
            await asyncio.to_thread(send, port, RAW + b"x" * 2048)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            await asyncio.to_thread(send, port, RAW, ("root@localhost",))
    finally:
        server.close()
    assert store.stored == []
