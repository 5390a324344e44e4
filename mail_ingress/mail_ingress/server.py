"""The SMTP listener (aiosmtpd): takes mail for ASK_ADDRESS only, refuses mail over
MAIL_MAX_BYTES (552), and answers 250 only once the mail is stored (else 451: the sending
server keeps it and tries again)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from email import policy
from email.parser import BytesParser

from aiosmtpd.smtp import SMTP

from .parsing import message_id_of
from .store import MailStore

log = logging.getLogger("mail_ingress")


class IngressHandler:
    def __init__(self, store: MailStore, own_address: str, max_bytes: int, stored: Callable[[], None]):
        self.store = store
        self.own_address = own_address.lower()
        self.max_bytes = max_bytes
        self.stored = stored

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # aiosmtpd hook
        if address.strip().lower() != self.own_address:
            return f"550 5.1.1 <{self.own_address}> is the only mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd hook
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "replace")
        if len(raw) > self.max_bytes:
            return "552 5.3.4 Message too big for the assistant"
        try:
            headers = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
            header = headers.get("Message-ID")
        except Exception:  # noqa: BLE001 - unreadable headers: the content hash identifies it
            header = None
        message_id = message_id_of(raw, str(header) if header is not None else None)
        try:
            await asyncio.to_thread(self.store.accept, message_id, envelope.mail_from, raw)
        except Exception:  # noqa: BLE001 - store away: the sender must keep the mail
            log.exception("could not store an incoming mail")
            return "451 4.3.0 Could not store the message; try again later"
        self.stored()
        return "250 OK queued for the assistant"


async def start_listener(handler: IngressHandler, host: str, port: int, max_bytes: int) -> asyncio.base_events.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, data_size_limit=max_bytes, hostname="medcode-assistant", loop=loop), host, port
    )
