"""Reading incoming mail: the question without quotes, signature or attachments, from a
text or an HTML body; loops never answered; replies threaded and safe to send."""

from email.message import EmailMessage

import pytest

from mail_ingress.parsing import html_to_text, message_id_of, parse_mail, strip_quotes_and_signature
from mail_ingress.reply import build_reply, render_html, reply_message_id, reply_subject

OWN = "ask@localhost"


def mail(body="Is E11.9 billable?", subject="q", sender="Jane <jane@example.org>", **headers) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = OWN
    message["Subject"] = subject
    message["Message-ID"] = "<m1@example.org>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return bytes(message)


def test_the_question_without_signature_or_quoted_history():
    text = "Can 20610 and 99213 be billed together?\nThanks!\n\nOn Mon, 1 Dec 2026, ask wrote:\n> old answer\n-- \nJane"
    parsed = parse_mail(mail(text), "jane@example.org", OWN)
    assert parsed.question == "Can 20610 and 99213 be billed together?\nThanks!"
    assert (parsed.sender, parsed.message_id, parsed.ignore_reason) == ("jane@example.org", "m1@example.org", None)
    assert strip_quotes_and_signature("q?\n> quoted\n-----Original Message-----\nold") == "q?"


def test_html_only_mail_and_attachments():
    message = EmailMessage()
    message["From"] = "jane@example.org"
    message["Subject"] = "html"
    message.set_content("<p>MUE for <b>J9035</b>?</p><blockquote>old</blockquote><script>x()</script>", subtype="html")
    message.add_attachment(b"Is K22 billable?", maintype="application", subtype="octet-stream", filename="notes.txt")
    parsed = parse_mail(bytes(message), "jane@example.org", OWN)
    assert parsed.question == "MUE for J9035?"
    assert html_to_text("<div>a</div><div class='gmail_quote'>q</div>").strip() == "a"


@pytest.mark.parametrize(
    "headers, envelope, reason",
    [
        ({"Auto_Submitted": "auto-replied"}, "jane@example.org", "Auto-Submitted"),
        ({"Precedence": "bulk"}, "jane@example.org", "Precedence"),
        ({"X_Autoreply": "yes"}, "jane@example.org", "auto-reply"),
        ({"X_Medcode_Assistant": "1"}, "jane@example.org", "own"),
        ({}, "", "bounce"),
    ],
)
def test_loops_are_never_answered(headers, envelope, reason):
    assert reason in parse_mail(mail(**headers), envelope, OWN).ignore_reason


@pytest.mark.parametrize("sender", ["ask@localhost", "MAILER-DAEMON@example.org", "not an address", ""])
def test_own_automated_or_unusable_senders_are_not_answered(sender):
    assert parse_mail(mail(sender=sender), "x@example.org", OWN).ignore_reason is not None


def test_a_mail_without_message_id_is_known_by_its_content():
    raw = b"From: jane@example.org\r\nSubject: q\r\n\r\nIs E11.9 billable?\r\n"
    assert message_id_of(raw, None) == message_id_of(raw, None) != message_id_of(raw + b"x", None)
    assert parse_mail(raw, "jane@example.org", OWN).message_id.endswith("@no-message-id")


def test_the_reply_is_threaded_and_has_text_and_html():
    parsed = parse_mail(mail(References="<m0@example.org>"), "jane@example.org", OWN)
    reply = build_reply(parsed, OWN, "**Yes.** [E11.9](http://x/ICD10CM/E11.9) <script>alert(1)</script>")
    assert reply["Subject"] == "Re: q" and reply["To"] == "jane@example.org" and reply["From"] == OWN
    assert reply["In-Reply-To"] == "<m1@example.org>"
    assert reply["References"] == "<m0@example.org> <m1@example.org>"
    assert reply["Message-ID"] == f"<{reply_message_id('m1@example.org', OWN)}>"
    assert reply["Auto-Submitted"] == "auto-replied"
    html = reply.get_body(("html",)).get_content()
    assert "<strong>Yes.</strong>" in html and "<script>" not in html and "&lt;script&gt;" in html
    assert "[E11.9]" in reply.get_body(("plain",)).get_content()


def test_subjects_and_ids_cannot_inject_headers():
    raw = (
        b"From: jane@example.org\r\nMessage-ID: <a@b>\r\nReferences: <x@y>\r\n\tBcc: v@example.org\r\n"
        b"Subject: =?utf-8?q?hi=0D=0ABcc:_victim@example.org?=\r\n\r\nIs E11.9 billable?\r\n"
    )
    parsed = parse_mail(raw, "jane@example.org", OWN)
    reply = build_reply(parsed, OWN, "answer")
    assert reply["Bcc"] is None and "\n" not in reply["Subject"] and "\r" not in reply["Subject"]
    assert reply["References"] == "<x@y> <a@b>"
    assert reply_subject("Re: again") == "Re: again" and reply_subject("") == "Re: your coding question"
    assert 'href="javascript' not in render_html("[x](javascript:alert(1))")
