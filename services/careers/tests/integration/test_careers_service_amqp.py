"""The careers service over the real broker with the development mail relay (a
subprocess, so its asyncio never meets eventlet): a new job alerts a matching saved search
once even when `job_posted` is delivered twice, an alert waits through a relay outage,
and accounts' `user_deleted` removes the person's applications."""

from __future__ import annotations

import mailbox
import os
import socket
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_hook, entrypoint_waiter
from nameko.testing.utils import find_free_port

from careers import storage
from careers.service import CareersService
from medcode_common.nameko_storage import shared_engine

pytestmark = pytest.mark.rabbit

JOB = {
    "title": "Outpatient Surgery Coder",
    "company": "Made-up Clinic",
    "location": "Austin, TX",
    "remote": False,
    "employment_type": "Full-time",
    "salary_min": 50000,
    "salary_max": 60000,
    "certifications": ["CPC"],
    "specialty": "Outpatient surgery",
    "description": "Code same-day surgery encounters with CPT and ICD-10-CM.",
}


class DevRelay:
    """`python -m medcode_common.mail` on `port`, keeping mail in `directory`."""

    def __init__(self, port: int, directory):
        self.port, self.directory, self.process = port, directory, None

    def start(self) -> None:
        env = dict(os.environ, SMTP_RELAY=f"127.0.0.1:{self.port}")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "medcode_common.mail", "--directory", str(self.directory)],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the development relay did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=15)

    def messages(self) -> list:
        return list(mailbox.Maildir(self.directory, create=True))


@pytest.fixture
def relay(tmp_path):
    relay = DevRelay(find_free_port(), tmp_path / "outbox")
    yield relay
    relay.stop()


@pytest.fixture
def careers(rabbit_config, container_factory, tmp_path, monkeypatch, relay):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SEARCH_BACKEND", "embedded")
    monkeypatch.setenv("SMTP_RELAY", f"127.0.0.1:{relay.port}")
    monkeypatch.setenv("CAREERS_DEMO_DATA", "false")
    monkeypatch.setenv("CAREERS_ALERT_RETRY_SECONDS", "1")
    container = container_factory(CareersService)
    container.start()
    return container


def call(container, method, request):
    with entrypoint_hook(container, method) as hook:
        return hook(request)


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def post_job(careers, **overrides) -> dict:
    return call(careers, "post_job", {"employer_id": "emp-1", "employer_role": "EMPLOYER", "job": {**JOB, **overrides}})


def posted_payload(job_id: str) -> dict:
    with shared_engine("careers").connect() as conn:
        table = storage.outbox.table
        return __import__("json").loads(
            conn.execute(
                sa.select(table.c.payload).where(table.c.event_type == "job_posted", table.c.payload.contains(job_id))
            ).scalar_one()
        )


def test_one_alert_mail_per_saved_search_and_job_even_when_the_event_comes_twice(careers, relay):
    relay.start()
    call(
        careers,
        "save_search",
        {"user_id": "coder-1", "email": "coder-1@example.org", "filter": {"query": "surgery coder"}},
    )
    call(careers, "save_search", {"user_id": "coder-2", "email": "coder-2@example.org", "filter": {"remote": True}})
    with entrypoint_waiter(careers, "handle_job_posted"):
        job = post_job(careers)
    wait_for(lambda: len(relay.messages()) == 1)
    with entrypoint_waiter(careers, "handle_job_posted"):
        event_dispatcher()("careers", "job_posted", posted_payload(job["id"]))  # redelivered
    time.sleep(1.5)  # a send timer tick
    [mail] = relay.messages()
    assert mail["To"] == "coder-1@example.org" and "Outpatient Surgery Coder" in mail["Subject"]
    assert "/careers/unsubscribe?token=" in mail["List-Unsubscribe"]


def test_an_alert_waits_for_the_relay_and_is_sent_when_it_is_back(careers, relay):
    call(
        careers,
        "save_search",
        {"user_id": "coder-1", "email": "coder-1@example.org", "filter": {"certifications": ["CPC"]}},
    )
    with entrypoint_waiter(careers, "handle_job_posted"):
        post_job(careers)
    with shared_engine("careers").connect() as conn:
        pending = conn.execute(
            sa.select(sa.func.count()).select_from(storage.alerts).where(storage.alerts.c.sent_at.is_(None))
        ).scalar_one()
    assert pending == 1  # the relay is not running: the mail is kept
    relay.start()
    wait_for(lambda: len(relay.messages()) == 1)


def test_user_deleted_removes_the_persons_applications(careers):
    job = post_job(careers, expires_on=(date.today() + timedelta(days=5)).isoformat())
    call(
        careers,
        "apply",
        {
            "job_id": job["id"],
            "applicant_id": "coder-9",
            "applicant_role": "MEMBER",
            "applicant_name": "Nine",
            "applicant_email": "nine@example.org",
            "cover_letter": "Hello",
        },
    )
    assert len(call(careers, "my_applications", {"user_id": "coder-9"})) == 1
    with entrypoint_waiter(careers, "handle_user_deleted"):
        event_dispatcher()(
            "accounts",
            "user_deleted",
            {
                "event_id": "5b0f0a56-8c8e-4b8e-9d7e-000000000001",
                "schema": "accounts.user_deleted/1",
                "occurred_at": "2026-06-01T00:00:00+00:00",
                "traceparent": None,
                "user_id": "coder-9",
            },
        )
    assert call(careers, "my_applications", {"user_id": "coder-9"}) == []
    listed = call(careers, "list_applications", {"employer_id": "emp-1", "job_ids": [job["id"]]})
    assert listed == {job["id"]: []}


def test_bad_input_is_a_clear_error(careers):
    from nameko.exceptions import RemoteError

    with pytest.raises(Exception) as raised:
        post_job(careers, salary_min=90000, salary_max=10)
    assert "salary_min must not be above salary_max" in str(raised.value)
    assert not isinstance(raised.value, RemoteError) or "BadRequest" in str(raised.value)
