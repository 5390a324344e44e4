"""Fixtures of the cross-service tests: the whole platform as subprocesses.

`stack` (session scope: started and loaded once) runs, on a fresh RabbitMQ vhost and a
temporary DATA_DIR: `python -m codes.cli load`, then the five services and the gateway on a
free port, started and stopped by the launcher's `Platform` as `make run` does. Nothing
runs in-process, so eventlet and asyncio never share a process.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from gateway.testing import free_port
from medcode_common.broker_admin import TemporaryVhost
from medcode_common.launcher import SERVICES, Platform  # what make run starts, and how
from medcode_common.testing import local_platform_env

RPC_TIMEOUT = 2.0  # the e2e gateway's; short, so the outage tests are quick
LOAD_TIMEOUT = 1200  # loading every code set once, on a slow machine
START_TIMEOUT = 180  # until /readyz answers 200
# What every platform of its own starts with (a test's own settings win): cheap password
# hashing, since its tests register many accounts, and RPCs given longer than the session
# stack's, since a freshly copied code store answers its first page slowly.
OWN_STACK_ENV = dict(ARGON2_TIME_COST="1", ARGON2_MEMORY_KIB="1024", ARGON2_PARALLELISM="1", RPC_TIMEOUT="10")


class Stack:
    def __init__(self, workdir: Path, amqp_uri: str, data_mirror: Path):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.code_sets_loaded = False
        self.platform = Platform(
            env={key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "SEARCH_BACKEND")},
            log_dir=workdir,
        )
        self.env = self.platform.env  # the one environment every process of the stack gets
        self.env.update(
            local_platform_env(amqp_uri, workdir / "data", self.port),
            DATA_MIRROR=str(data_mirror),
            RPC_TIMEOUT=str(RPC_TIMEOUT),
            PYTHONUNBUFFERED="1",
            MEDCODE_TRACE_FILE=str(workdir / "spans.jsonl"),
        )
        # Every test client comes from 127.0.0.1: the per-address limits that keep a
        # stranger from farming accounts or hammering the gateway would trip over the
        # suite itself. Tests of those limits set them on a platform of their own.
        for name, value in (
            ("RATE_LIMIT_PER_MINUTE", "0"),
            ("ACCOUNTS_PER_ADDRESS_PER_DAY", "100000"),
            ("REGISTER_ATTEMPTS_PER_ADDRESS_PER_HOUR", "100000"),
            ("LOGIN_ADDRESS_FAILURES_PER_HOUR", "100000"),
            ("METERING_GUEST_IP_DAILY_CLAIMS", ""),
        ):
            self.env.setdefault(name, value)
        self.trace_file = workdir / "spans.jsonl"
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        self.data_mirror = data_mirror

    def _log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self._log(name)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def load_code_sets(self) -> None:
        if importlib.util.find_spec("codes.cli") is None:
            return  # not written yet: the tests that need data skip
        if not os.environ.get("E2E_FULL_PTP"):
            self.env["NCCI_PTP_DIR"] = str(small_ptp_table(self.data_mirror, self.workdir / "ncci_ptp"))
        with open(self._log("load"), "w") as log:
            done = subprocess.run(
                [sys.executable, "-m", "codes.cli", "load", "--no-progress"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=LOAD_TIMEOUT,
            )
        if done.returncode != 0:
            pytest.fail(f"`python -m codes.cli load` failed ({done.returncode}):\n{self.log_tail('load')}")
        self.code_sets_loaded = True

    def start(self, name: str) -> None:
        self.platform.start(name)

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash: the service's queue stays, with nobody consuming it."""
        self.platform.kill(name)

    def stop_all(self) -> None:
        self.platform.stop()

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        if self.platform.wait_ready(f"{self.url}/readyz", timeout):
            return
        for name in self.platform.dead():
            pytest.fail(f"{name} exited with {self.platform.children[name].returncode}:\n{self.log_tail(name)}")
        not_ready: list[str] = []
        try:
            answer = httpx.get(f"{self.url}/readyz", timeout=5)
            last = answer.text
            not_ready = [name for name in answer.json().get("not_ready", []) if name in self.platform.children]
        except (httpx.HTTPError, ValueError) as exc:
            last = repr(exc)
        for name in not_ready:  # alive but silent: its stacks, into its log (medcode_common.runner)
            os.kill(self.platform.children[name].pid, signal.SIGUSR1)
        time.sleep(2 if not_ready else 0)
        # The silent services first and at length, so a truncated report still shows them.
        others = [name for name in self.platform.children if name not in not_ready]
        logs = "\n".join(
            [f"--- {name} (not ready)\n{self.log_tail(name, 80)}" for name in not_ready]
            + [f"--- {name}\n{self.log_tail(name, 10)}" for name in others]
        )
        pytest.fail(f"the stack was not ready within {timeout} s: {last}\n{logs}")

    def copy_code_data_from(self, other: Stack) -> None:
        """Reuse `other`'s loaded code sets (database and search index) instead of loading again."""
        source, target = other.workdir / "data", self.workdir / "data"
        for path in source.iterdir():
            if path.name.startswith("codes.sqlite3"):
                shutil.copy2(path, target / path.name)
            elif path.is_dir():
                shutil.copytree(path, target / path.name)
        self.code_sets_loaded = True

    def start_all(self) -> None:
        self.platform.start(*SERVICES, "gateway")
        self.wait_ready()

    def start_mail(self) -> None:
        """The development relay (mail lands in DATA_DIR/outbox) and the mail ingress."""
        self.platform.start("mail-relay", "mail-ingress")
        listening = Retrying(
            stop=stop_after_delay(60),
            wait=wait_fixed(0.2),
            retry=retry_if_result(lambda up: not up),
            retry_error_callback=lambda _: False,
        )
        for port in (self.env["SMTP_RELAY"].rsplit(":", 1)[1], self.env["SMTP_PORT"]):
            if not listening(_listening, int(port)):
                pytest.fail(f"nothing listens on {port}:\n{self.log_tail('mail-ingress')}")

    @property
    def outbox(self) -> Path:
        return self.workdir / "data" / "outbox"

    @contextmanager
    def down(self, name: str):
        """`with stack.down("careers"):` the service is killed inside, restarted after."""
        self.kill(name)
        try:
            yield
        finally:
            self.start(name)
            self.wait_ready()

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the gateway's /metrics samples `name` with these labels (among others)."""
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def rpc_calls(self, target: str) -> int:
        """How many RPCs to `target` ("codes.get_codes") the gateway made, whatever their outcome."""
        service, method = target.split(".", 1)
        return int(self.metric("gateway_rpc_duration_seconds_count", service=service, method=method))


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


# The codes the e2e claims use. Loading the full 2.5 M-row PTP release would add a minute
# to the stack's start (benchmarks measure it): the stack loads, as its practitioner PTP
# table (NCCI_PTP_DIR), the real rows naming one of these codes. E2E_FULL_PTP=1 loads it all.
E2E_PTP_CODES = frozenset(
    {"11042", "97597", "20610", "96372", "36415", "36591", "93000", "93005", "99213", "99214", "90471", "G0008"}
)
PTP_RELEASE = "medicare_ptp_practitioner_v302r0_2024q3_noeffdate.csv.gz"


def small_ptp_table(mirror: Path, folder: Path) -> Path:
    import csv
    import gzip

    folder.mkdir(parents=True, exist_ok=True)
    with (
        gzip.open(mirror / "ncci_ptp" / PTP_RELEASE, "rt", newline="") as source,
        gzip.open(folder / PTP_RELEASE, "wt", newline="") as target,
    ):
        rows, out = csv.reader(source), csv.writer(target)
        out.writerow(next(rows))
        out.writerows(row for row in rows if row[0] in E2E_PTP_CODES or row[1] in E2E_PTP_CODES)
    return folder


@pytest.fixture(scope="session")
def stack(tmp_path_factory, data_mirror):
    with TemporaryVhost("e2e") as vhost:
        stack = Stack(tmp_path_factory.mktemp("stack"), vhost.amqp_uri, data_mirror)
        try:
            stack.load_code_sets()
            stack.start_all()
            yield stack
        finally:
            stack.stop_all()


@contextmanager
def own_stack(stack: Stack, workdir: Path, prefix: str, **env: str):
    """A platform of its own (fresh vhost, fresh accounts and metering stores) with the
    session stack's code sets, for tests that change state or break things on purpose;
    `env` on top of OWN_STACK_ENV."""
    if not stack.code_sets_loaded:
        pytest.skip("no code sets loaded")
    with TemporaryVhost(prefix) as vhost:
        own = Stack(workdir, vhost.amqp_uri, stack.data_mirror)
        own.vhost = vhost
        own.copy_code_data_from(stack)
        own.env.update(OWN_STACK_ENV | env)
        try:
            own.start_all()
            yield own
        finally:
            own.stop_all()


@pytest.fixture(scope="session")
def make_own_stack(tmp_path_factory):
    """`with make_own_stack(stack, "prefix", VAR="value") as own:` see own_stack; its work
    directory is a fresh temporary one named after the prefix."""

    def make(stack: Stack, prefix: str, **env: str):
        return own_stack(stack, tmp_path_factory.mktemp(prefix), prefix, **env)

    return make


@pytest.fixture
def code_sets(stack):
    if not stack.code_sets_loaded:
        pytest.skip("codes.cli is not there yet: no code sets loaded")
    return stack
