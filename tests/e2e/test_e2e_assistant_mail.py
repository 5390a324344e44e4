"""The assistant by email, through the real platform: smtplib to the mail ingress, the
reply read from the development relay's Maildir (DATA_DIR/outbox). Exactly one threaded
reply per mail; a reply in the thread continues the conversation; the assistant killed
between two mails and the first redelivered loses and doubles nothing; loops, oversize
mail, other recipients and header injection are refused or ignored."""

from __future__ import annotations

import mailbox
import smtplib
import sqlite3
import time
import uuid
from email.message import EmailMessage

import httpx
import pytest

ASK_ADDRESS = "ask@localhost"
REGISTER = (
    'mutation($e: String!) { register(input: {email: $e, password: "mail password 1", name: "M"}) '
    "{ token account { id } } }"
)
CONVERSATION = "query($id: ID!) { conversation(id: $id) { id channel messages { role text } } }"


@pytest.fixture(scope="module")
def platform(stack, make_own_stack):
    with make_own_stack(
        stack,
        "e2e-mail",
        RPC_TIMEOUT="3",
        MAIL_ASK_TIMEOUT="6",
        MAIL_RETRY_SECONDS="0.5",
        MAIL_RETRY_MAX_SECONDS="2",
        MAIL_MAX_BYTES="65536",
    ) as own:
        own.start_mail()
        yield own


def gql(platform, query: str, variables: dict, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{platform.url}/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def member(platform) -> tuple[str, str]:
    email = f"coder-{uuid.uuid4().hex[:8]}@example.org"
    body = gql(platform, REGISTER, {"e": email})
    assert not body.get("errors"), body
    return email, body["data"]["register"]["token"]


def question(
    sender: str,
    subject: str,
    body: str,
    message_id: str,
    in_reply_to: str | None = None,
    references: str | None = None,
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Jane Coder <{sender}>"
    message["To"] = ASK_ADDRESS
    message["Subject"] = subject
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def send(platform, message: EmailMessage, mail_from: str | None = None) -> None:
    with smtplib.SMTP("127.0.0.1", int(platform.env["SMTP_PORT"]), timeout=30) as smtp:
        smtp.send_message(message, from_addr=mail_from)


def replies_to(platform, sender: str) -> list:
    if not platform.outbox.exists():
        return []
    return sorted(
        (m for m in mailbox.Maildir(platform.outbox, create=False) if sender in (m["To"] or "")),
        key=lambda m: m["Date"] or "",
    )


def wait_for_replies(platform, sender: str, count: int, timeout: float = 60) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = replies_to(platform, sender)
        if len(found) >= count:
            return found
        time.sleep(0.3)
    pytest.fail(
        f"{len(replies_to(platform, sender))} replies to {sender}, expected {count}:\n"
        f"{platform.log_tail('mail-ingress')}"
    )


def parts(reply) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in reply.walk()
        if not part.is_multipart()
    }


def ingress_conversations(platform) -> list[str | None]:
    with sqlite3.connect(platform.workdir / "data" / "mail_ingress.sqlite3") as db:
        return [
            row[0]
            for row in db.execute("SELECT conversation_id FROM mail_ingress_mails WHERE state = 'answered' ORDER BY id")
        ]


def test_a_thread_by_mail_survives_the_assistant_dying_and_a_redelivery(platform):
    sender, token = member(platform)
    first = question(
        sender,
        "NCCI question",
        "Can 20610 and 99213 be billed together?\n\n-- \nJane Coder\nCoding department, 43280 Main St",
        "<first-%s@example.org>" % uuid.uuid4().hex,
    )
    send(platform, first)
    [reply] = wait_for_replies(platform, sender, 1)
    assert reply["Subject"] == "Re: NCCI question"
    assert reply["In-Reply-To"] == first["Message-ID"] and first["Message-ID"] in reply["References"]
    assert reply["Auto-Submitted"] == "auto-replied"
    body = parts(reply)
    assert set(body) == {"text/plain", "text/html"}
    assert "Not without a modifier." in body["text/plain"] and "modifier indicator 1" in body["text/plain"]
    assert "<strong>Not without a modifier.</strong>" in body["text/html"]

    # The assistant dies; the coder answers in the thread; the first mail is delivered again.
    platform.kill("assistant")
    second = question(
        sender,
        "Re: NCCI question",
        "and with modifier 25?\n\nOn Tue, Jane wrote:\n> Can 20610 ...",
        "<second-%s@example.org>" % uuid.uuid4().hex,
        in_reply_to=reply["Message-ID"],
        references=f"{first['Message-ID']} {reply['Message-ID']}",
    )
    send(platform, second)
    send(platform, first)
    time.sleep(3)
    assert len(replies_to(platform, sender)) == 1  # nothing answered while the assistant is away
    platform.start("assistant")
    platform.wait_ready()

    replies = wait_for_replies(platform, sender, 2)
    time.sleep(3)  # room for a wrong second answer to the redelivered first mail
    replies = replies_to(platform, sender)
    assert len(replies) == 2, [r["In-Reply-To"] for r in replies]
    [later] = [r for r in replies if r["In-Reply-To"] == second["Message-ID"]]
    assert "Yes, with the modifier." in parts(later)["text/plain"]  # the thread's codes, with 25
    assert reply["Message-ID"] in later["References"]

    # One conversation, on the email channel, owned by the sender's account.
    conversations = ingress_conversations(platform)
    assert len(conversations) >= 2 and conversations[-1] == conversations[-2]
    conversation = gql(platform, CONVERSATION, {"id": conversations[-1]}, token)["data"]["conversation"]
    assert conversation["channel"] == "email"
    assert [m["text"] for m in conversation["messages"] if m["role"] == "user"] == [
        "Can 20610 and 99213 be billed together?",
        "and with modifier 25?",
    ]  # no signature, no quote


def test_an_unknown_sender_gets_one_guest_answer_then_the_invitation(platform):
    sender = f"stranger-{uuid.uuid4().hex[:8]}@example.net"
    send(platform, question(sender, "billable?", "Is E11.9 billable?", f"<g1-{uuid.uuid4().hex}@example.net>"))
    [answer] = wait_for_replies(platform, sender, 1)
    text = parts(answer)["text/plain"]
    assert "**Yes.**" in text and "E11.9" in text and "Register" in text
    send(platform, question(sender, "again", "Is I10 billable?", f"<g2-{uuid.uuid4().hex}@example.net>"))
    replies = wait_for_replies(platform, sender, 2)
    second = parts([r for r in replies if r["Subject"] == "Re: again"][0])["text/plain"]
    assert "Guests get one answer" in second and "I10" not in second


def test_loops_bounces_and_own_mail_are_never_answered(platform):
    sender = f"auto-{uuid.uuid4().hex[:8]}@example.org"
    send(
        platform,
        question(sender, "Out of office", "I am away", f"<a1-{uuid.uuid4().hex}@x>", Auto_Submitted="auto-replied"),
    )
    send(platform, question(sender, "list", "Is E11.9 billable?", f"<a2-{uuid.uuid4().hex}@x>", Precedence="bulk"))
    send(platform, question(sender, "bounce", "Is E11.9 billable?", f"<a3-{uuid.uuid4().hex}@x>"), mail_from="")
    send(
        platform, question(sender, "ours", "Is E11.9 billable?", f"<a4-{uuid.uuid4().hex}@x>", X_Medcode_Assistant="1")
    )
    own = question(ASK_ADDRESS, "self", "Is E11.9 billable?", f"<a5-{uuid.uuid4().hex}@x>")
    send(platform, own)
    # A normal mail after them is answered: so the ones before were seen and dropped.
    send(platform, question(sender, "real", "Is E11.9 billable?", f"<a6-{uuid.uuid4().hex}@x>"))
    wait_for_replies(platform, sender, 1)
    time.sleep(2)
    assert [r["Subject"] for r in replies_to(platform, sender)] == ["Re: real"]
    assert replies_to(platform, ASK_ADDRESS) == []


def test_oversize_mail_and_other_recipients_are_refused(platform):
    big = question("big@example.org", "big", "Is E11.9 billable?\n" + "x" * 70_000, f"<b-{uuid.uuid4().hex}@x>")
    with pytest.raises(smtplib.SMTPException):
        send(platform, big)
    other = question("someone@example.org", "hi", "Is E11.9 billable?", f"<o-{uuid.uuid4().hex}@x>")
    del other["To"]
    other["To"] = "root@localhost"
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(platform, other)


def test_a_subject_cannot_inject_headers(platform):
    sender, _ = member(platform)
    raw = (
        f"From: {sender}\r\nTo: {ASK_ADDRESS}\r\nMessage-ID: <inj-{uuid.uuid4().hex}@x>\r\n"
        "Subject: =?utf-8?q?hello=0D=0ABcc:_victim@example.org=0D=0AX-Evil:_1?=\r\n"
        "\r\nIs E11.9 billable?\r\n"
    ).encode()
    with smtplib.SMTP("127.0.0.1", int(platform.env["SMTP_PORT"]), timeout=30) as smtp:
        smtp.sendmail(sender, [ASK_ADDRESS], raw)
    [reply] = wait_for_replies(platform, sender, 1)
    assert reply["Bcc"] is None and reply["X-Evil"] is None
    assert reply["Subject"].startswith("Re: hello") and "\n" not in reply["Subject"]
    assert replies_to(platform, "victim@example.org") == []
