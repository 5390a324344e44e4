"""Outgoing mail: one way for every service and edge process to send through the relay.

The platform never talks to the internet's mail servers itself: it hands each message to
the relay named by SMTP_RELAY (`host:port`). In development that is the local relay below
(`python -m medcode_common.mail`, started by `make run`), which keeps every message in a
Maildir under $DATA_DIR/outbox so a person can read what would have been sent.
"""

from __future__ import annotations

import argparse
import asyncio
import mailbox
import smtplib
import sys
from email.message import EmailMessage
from pathlib import Path

from .settings import DataDirSettings, MailRelaySettings, read_settings, settings_or_exit

DEFAULT_RELAY = "127.0.0.1:2526"


class MailRelayUnavailable(Exception):
    """The relay did not take the message; the caller keeps it and tries again later."""


def parse_relay(relay: str) -> tuple[str, int]:
    host, _, port = relay.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"SMTP relay {relay!r} is not host:port")
    return host, int(port)


def send_mail(message: EmailMessage, relay: str = DEFAULT_RELAY, timeout: float = 10.0) -> None:
    """Hand `message` to the relay, or raise MailRelayUnavailable (nothing was accepted)."""
    host, port = parse_relay(relay)
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailRelayUnavailable(f"relay {relay} did not accept the message: {exc}") from exc


class MaildirRelay:
    """aiosmtpd handler of the development relay: every accepted message goes to a Maildir."""

    def __init__(self, directory: Path):
        self.maildir = mailbox.Maildir(directory, create=True)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook name
        self.maildir.add(envelope.original_content or envelope.content)
        return "250 OK kept in the development outbox"


def start_dev_relay(directory: Path, host: str, port: int):
    """Start the development relay in a thread; returns the aiosmtpd Controller (stop() it)."""
    from aiosmtpd.controller import Controller

    controller = Controller(MaildirRelay(directory), hostname=host, port=port)
    controller.start()
    return controller


class RelaySettings(DataDirSettings, MailRelaySettings):
    """The development relay process: listens on SMTP_RELAY, keeps mail in DATA_DIR/outbox."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="development mail relay: keeps mail in a Maildir")
    parser.add_argument("--directory", type=Path, default=None, help="Maildir (default $DATA_DIR/outbox)")
    args = parser.parse_args(argv)
    settings = settings_or_exit(lambda: read_settings(RelaySettings, "mail relay configuration"))
    directory = args.directory or settings.DATA_DIR / "outbox"
    host, port = parse_relay(settings.SMTP_RELAY)
    controller = start_dev_relay(directory, host, port)
    print(f"development mail relay on {host}:{port}, keeping mail in {directory}", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
