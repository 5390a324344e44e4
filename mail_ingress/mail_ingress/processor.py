"""Answering stored mail, once each.

For every pending mail: parse it; never answer loops (auto-replies, bounces, our own
mail); find the sender's account (accounts.find_account) or treat them as a guest (one
guest answer, then only the invitation to register); continue the conversation of the
thread when the mail replies to one of our answers; ask the assistant with the
Message-ID as request id; send the reply through the relay; mark the mail answered.

When the assistant, the accounts service or the relay is away, the mail stays pending and
is tried again later (doubling delay, capped). The assistant's request id makes a second
ask of the same mail return the first answer, uncounted, so a retry after a crash
neither loses nor doubles an answer; the reply's Message-ID is derived from the incoming
one, so even a reply resent after a crash between relay and bookkeeping is recognisably
the same message. Each due mail is claimed for a lease (MailStore.due), so two processes
never work on the same mail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from medcode_common.aio_rpc.typed import invoke
from medcode_common.mail import MailRelayUnavailable, send_mail
from medcode_contracts import assistant as contract
from medcode_contracts.errors import BadRequest, NotFound, PlatformError, RateLimited, Unavailable
from medcode_contracts.rpc import Accounts, Assistant

from .parsing import IncomingMail, parse_mail
from .reply import build_reply, reply_message_id
from .store import MailStore, StoredMail, sender_key

log = logging.getLogger("mail_ingress")

MAX_UNEXPECTED_FAILURES = 10


class Processor:
    def __init__(
        self, store: MailStore, rpc, settings, relay: str, *, ask_timeout: float = 20.0, send: Callable = send_mail
    ):
        self.store = store
        self.rpc = rpc
        self.settings = settings
        self.relay = relay
        self.ask_timeout = ask_timeout
        self.send = send
        self.wakeup = asyncio.Event()

    # ---- the loop -------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.process_due()
                wait = await asyncio.to_thread(self.store.next_due_in)
            except Exception:  # noqa: BLE001 - the store away for a moment: try again soon
                log.exception("mail processing failed; retrying")
                wait = self.settings.MAIL_RETRY_SECONDS
            self.wakeup.clear()
            try:
                await asyncio.wait_for(self.wakeup.wait(), timeout=min(wait if wait is not None else 5.0, 5.0))
            except TimeoutError:
                pass

    async def process_due(self) -> int:
        done = 0
        lease = self.ask_timeout * 3 + 30  # longer than one mail's lookups, answer and relay
        for stored in await asyncio.to_thread(self.store.due, None, 20, lease):
            await self.handle(stored)
            done += 1
        return done

    def _delay(self, attempts: int) -> float:
        return min(self.settings.MAIL_RETRY_SECONDS * (2 ** min(attempts, 16)), self.settings.MAIL_RETRY_MAX_SECONDS)

    # ---- one mail --------------------------------------------------------------------------------
    async def handle(self, stored: StoredMail) -> None:
        own = self.settings.ASK_ADDRESS
        mail = parse_mail(stored.raw, stored.envelope_sender, own)
        if mail.ignore_reason is not None:
            log.info("mail %s not answered: %s", stored.id, mail.ignore_reason)
            await asyncio.to_thread(self.store.ignore, stored.id, mail.ignore_reason, mail.sender)
            return
        assert mail.sender is not None  # a mail without a usable sender has an ignore_reason
        try:
            text, guest, conversation_id = await self._answer(mail)
            message = build_reply(mail, own, text)
            await asyncio.to_thread(self.send, message, self.relay)
        except (Unavailable, MailRelayUnavailable) as exc:
            delay = self._delay(stored.attempts)
            log.warning("mail %s waits %.0f s: %s", stored.id, delay, type(exc).__name__)
            await asyncio.to_thread(self.store.retry_later, stored.id, delay, f"{type(exc).__name__}: {exc}")
            return
        except Exception as exc:  # noqa: BLE001 - a bug: retry a few times, then give up loudly
            if stored.attempts + 1 >= MAX_UNEXPECTED_FAILURES:
                log.exception("mail %s given up after %d attempts", stored.id, stored.attempts + 1)
                await asyncio.to_thread(self.store.ignore, stored.id, f"failed: {type(exc).__name__}", mail.sender)
            else:
                log.exception("mail %s failed; retrying", stored.id)
                await asyncio.to_thread(
                    self.store.retry_later, stored.id, self._delay(stored.attempts), f"{type(exc).__name__}"
                )
            return
        await asyncio.to_thread(
            self.store.answered, stored.id, mail.sender, guest, conversation_id, reply_message_id(mail.message_id, own)
        )
        log.info("mail %s answered", stored.id)

    async def _answer(self, mail: IncomingMail) -> tuple[str, bool, str | None]:
        """(reply markdown, answered as a guest, conversation id)."""
        assert mail.sender is not None  # a mail without a usable sender is never answered
        account = await invoke(self.rpc, Accounts.FIND_ACCOUNT, {"email": mail.sender}, op="mail.find_account")
        invitation = (
            f"\n\n---\nYou asked as a guest. Register with this address ({self.settings.MAIL_REGISTER_URL}) "
            "to keep asking by mail."
        )
        if account is None:
            used = await asyncio.to_thread(self.store.guest_answers, mail.sender)
            if used >= self.settings.MAIL_GUEST_ANSWERS:
                return (
                    "Guests get one answer by mail. Register an account with this address "
                    f"({self.settings.MAIL_REGISTER_URL}) and ask again: your questions will be answered "
                    "under your plan.",
                    False,
                    None,
                )
            subject, plan, user_id = f"mail-{sender_key(mail.sender)[:32]}", "GUEST", None
        else:
            subject, plan, user_id = account.id, account.plan.value, account.id
        conversation_id = await asyncio.to_thread(
            self.store.conversation_of_thread, mail.in_reply_to + mail.references, mail.sender
        )
        request = dict(
            question=mail.question,
            conversation_id=conversation_id,
            channel=contract.Channel.EMAIL.value,
            subject=subject,
            plan=plan,
            user_id=user_id,
            request_id=mail.message_id,
        )
        try:
            answer = await self._ask(request)
        except NotFound:
            # The thread's conversation is gone (account deleted): start a new one.
            answer = await self._ask({**request, "conversation_id": None})
        except RateLimited as exc:
            return f"{exc.message}\n\nYour question was not answered.", False, conversation_id
        except BadRequest as exc:
            return f"I could not read a question in your mail ({exc.message}).", False, conversation_id
        except Unavailable:
            raise
        except PlatformError as exc:
            if exc.code == "INTERNAL":
                raise
            return f"Your question could not be answered: {exc.message}", False, conversation_id
        text = answer.text + _sources(answer.citations)
        if account is None:
            text += invitation
        return text, account is None, answer.conversation_id

    async def _ask(self, request: dict) -> contract.Answer:
        return await invoke(self.rpc, Assistant.ASK, request, timeout=self.ask_timeout, op="mail.ask")


def _sources(citations: list[contract.Citation]) -> str:
    if not citations:
        return ""
    lines = [f"- {c.source}: {c.locator}" for c in citations[:8]]
    return "\n\nSources:\n" + "\n".join(lines)
