"""Reading an incoming mail: who sent it, which thread it belongs to, whether it must not
be answered (auto-replies, bounces, lists, our own mail), and the question: the plain text
of its text or HTML body, without quoted history, signature or attachments. Pure
functions over the raw bytes."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from html.parser import HTMLParser

# A deliberately plain address: no quotes, no comments, no whitespace, no line breaks.
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_MESSAGE_ID = re.compile(r"<([^<>\s]{1,250})>")
OWN_HEADER = "X-Medcode-Assistant"  # set on every mail we send: never answer one back
MAX_QUESTION_CHARS = 4000


def valid_address(address: str) -> bool:
    return bool(_ADDRESS.match(address or ""))


@dataclass
class IncomingMail:
    message_id: str  # without angle brackets; a content hash when the mail has none
    sender: str | None  # plain, lower-cased address; None when unusable
    subject: str
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    question: str = ""
    ignore_reason: str | None = None  # why no answer is sent (loop protection)


def message_ids(value: str | None) -> list[str]:
    return _MESSAGE_ID.findall(value or "")[:50]


def message_id_of(raw: bytes, header: str | None) -> str:
    found = message_ids(header)
    if found:
        return found[0]
    return f"sha256-{hashlib.sha256(raw).hexdigest()}@no-message-id"


def parse_mail(raw: bytes, envelope_sender: str | None, own_address: str) -> IncomingMail:
    message: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)
    message_id = message_id_of(raw, _header(message, "Message-ID"))
    _, from_address = parseaddr(_header(message, "From") or "")
    sender = from_address.strip().lower() if valid_address(from_address.strip()) else None
    mail = IncomingMail(
        message_id=message_id,
        sender=sender,
        subject=_one_line(_header(message, "Subject") or ""),
        in_reply_to=message_ids(_header(message, "In-Reply-To")),
        references=message_ids(_header(message, "References")),
    )
    mail.ignore_reason = _ignore_reason(message, envelope_sender, sender, own_address)
    if mail.ignore_reason is None:
        mail.question = question_text(message)
        if not mail.question:
            mail.ignore_reason = "no question in the mail"
    return mail


def _header(message: EmailMessage, name: str) -> str | None:
    try:
        value = message.get(name)
    except Exception:  # noqa: BLE001 - a malformed header reads as missing, never a crash
        return None
    return str(value) if value is not None else None


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def _ignore_reason(
    message: EmailMessage, envelope_sender: str | None, sender: str | None, own_address: str
) -> str | None:
    if sender is None:
        return "no usable From address"
    if envelope_sender is not None and envelope_sender.strip() in ("", "<>"):
        return "a bounce (empty envelope sender)"
    local = sender.split("@", 1)[0]
    if local in ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply"):
        return "an automated sender"
    if sender == own_address or _header(message, OWN_HEADER):
        return "our own mail"
    auto = (_header(message, "Auto-Submitted") or "no").strip().lower()
    if auto != "no":
        return "an automatic message (Auto-Submitted)"
    if (_header(message, "Precedence") or "").strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return "bulk or list mail (Precedence)"
    if any(
        _header(message, h)
        for h in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "List-Id", "List-Unsubscribe")
    ):
        return "an auto-reply or list mail"
    if message.get_content_type() == "multipart/report":
        return "a delivery report"
    return None


class _Text(HTMLParser):
    """HTML to plain text: block elements end lines, quoted blocks and scripts are dropped."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table"}
    SKIP = {"script", "style", "head", "title", "blockquote"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP or (tag == "div" and any(k == "class" and v and "quote" in v for k, v in attrs)):
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - broken HTML gives what was read so far
        pass
    return "".join(parser.parts)


def question_text(message: EmailMessage) -> str:
    """The first text/plain body part, else the first text/html one as text; never an
    attachment."""
    plain = html = None
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment" or part.get_filename():
            continue
        kind = part.get_content_type()
        try:
            content = part.get_content()
        except Exception:  # noqa: BLE001 - an undecodable part is skipped
            continue
        if kind == "text/plain" and plain is None:
            plain = content
        elif kind == "text/html" and html is None:
            html = content
    text = plain if plain is not None else html_to_text(html) if html is not None else ""
    return strip_quotes_and_signature(text)[:MAX_QUESTION_CHARS]


_QUOTE_HEADER = re.compile(
    r"^(On .{0,200} wrote:|Le .{0,200} a écrit ?:|Am .{0,200} schrieb .{0,100}:|-{2,} ?Original Message ?-{2,}"
    r"|-{2,} ?Forwarded message ?-{2,}|From: .+|Sent from my .+|_{10,})\s*$",
    re.I,
)


def strip_quotes_and_signature(text: str) -> str:
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        stripped = line.strip()
        if stripped in ("--", "-- ") or line == "-- " or _QUOTE_HEADER.match(stripped):
            break  # everything below is the signature or the quoted history
        if stripped.startswith(">"):
            continue
        lines.append(line.rstrip())
    return "\n".join(lines).strip()
