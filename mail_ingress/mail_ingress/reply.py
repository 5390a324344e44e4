"""The reply to a question mail: `Re:` subject, In-Reply-To and References for threading,
a text part (the answer's markdown) and an HTML part rendered from it (raw HTML escaped,
only http(s) and mailto links). Every header value comes from a checked address, a
message id of the `<...>` form, or a one-line subject: nothing a sender writes can start a
header of its own."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import formatdate

from markdown_it import MarkdownIt

from .parsing import OWN_HEADER, IncomingMail, valid_address

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "breaks": True})
MAX_REFERENCES = 20


def reply_message_id(incoming_message_id: str, own_address: str) -> str:
    """The same for every attempt at one reply, so a resend after a crash can be told
    apart from a second answer (same Message-ID)."""
    digest = hashlib.sha256(incoming_message_id.encode()).hexdigest()[:32]
    return f"{digest}.answer@{own_address.split('@', 1)[1]}"


def reply_subject(subject: str) -> str:
    subject = " ".join(subject.replace("\r", " ").replace("\n", " ").split())[:150]
    if not subject:
        return "Re: your coding question"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def render_html(markdown: str) -> str:
    body = _MARKDOWN.render(markdown)
    return f'<!doctype html><html><body style="font-family:sans-serif">{body}</body></html>'


def build_reply(mail: IncomingMail, own_address: str, answer_markdown: str) -> EmailMessage:
    if mail.sender is None or not valid_address(mail.sender) or not valid_address(own_address):
        raise ValueError("no valid address to reply to")
    message = EmailMessage()
    message["From"] = own_address
    message["To"] = mail.sender
    message["Subject"] = reply_subject(mail.subject)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{reply_message_id(mail.message_id, own_address)}>"
    message["In-Reply-To"] = f"<{mail.message_id}>"
    references = (mail.references + [mail.message_id])[-MAX_REFERENCES:]
    message["References"] = " ".join(f"<{ref}>" for ref in dict.fromkeys(references))
    # Loop protection for the other side (RFC 3834) and for ourselves.
    message["Auto-Submitted"] = "auto-replied"
    message[OWN_HEADER] = "1"
    message.set_content(answer_markdown)
    message.add_alternative(render_html(answer_markdown), subtype="html")
    return message
