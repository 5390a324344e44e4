"""The one outgoing-mail path: send_mail hands a message to the relay; the development
relay keeps it in a Maildir a person can read."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage

import pytest

from gateway.testing import free_port
from medcode_common.mail import MailRelayUnavailable, parse_relay, send_mail, start_dev_relay


def _message(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "ask@localhost"
    message["To"] = "coder@example.org"
    message["Subject"] = subject
    message.set_content("K22.0 Achalasia of cardia")
    return message


def test_dev_relay_keeps_sent_mail_in_a_maildir(tmp_path):
    port = free_port()
    relay = start_dev_relay(tmp_path / "outbox", "127.0.0.1", port)
    try:
        send_mail(_message("Re: achalasia"), f"127.0.0.1:{port}")
    finally:
        relay.stop()
    kept = list(mailbox.Maildir(tmp_path / "outbox"))
    assert [m["Subject"] for m in kept] == ["Re: achalasia"]
    assert "K22.0" in kept[0].get_payload()


def test_relay_down_is_a_clear_error_not_a_crash():
    with pytest.raises(MailRelayUnavailable, match="did not accept"):
        send_mail(_message("x"), f"127.0.0.1:{free_port()}", timeout=2)


@pytest.mark.parametrize("bad", ["nohost", ":25", "host:", "host:port"])
def test_relay_address_must_be_host_and_port(bad):
    with pytest.raises(ValueError):
        parse_relay(bad)
