"""Run the whole platform on this machine: every service and the gateway, as child
processes. `make run` calls this after preparing the broker and the code sets.

Prints the URLs once /readyz answers; Ctrl-C or SIGTERM stops everything it started.
If one process dies, everything is stopped and the exit status says so, rather than
leaving a half-running platform behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from .settings import load_settings, settings_or_exit

# module:Class of each service; strings, so the launcher imports no service code.
SERVICES = {
    "codes": "codes.service:CodesService",
    "accounts": "accounts.service:AccountsService",
    "metering": "metering.service:MeteringService",
    "assistant": "assistant.service:AssistantService",
    "careers": "careers.service:CareersService",
}
# The platform's other processes: name -> module run with `python -m`.
PROCESSES = {
    "gateway": "gateway",
    # The development mail relay: outgoing mail lands in DATA_DIR/outbox, not the internet.
    "mail-relay": "medcode_common.mail",
    # The assistant by email: the SMTP listener for ASK_ADDRESS (SMTP_PORT).
    "mail-ingress": "mail_ingress",
}
READY_TIMEOUT = 120.0
READY_POLL = 0.5  # seconds between two looks at /readyz
STOP_GRACE = 15.0


class Platform:
    """The platform's processes, as children of this one (`make run`, the e2e tests and
    the benchmark). With `log_dir`, each child writes its output to `log_dir/<name>.log`."""

    def __init__(self, python: str = sys.executable, env: dict | None = None, log_dir: Path | None = None):
        self.python = python
        self.env = dict(os.environ if env is None else env)
        self.log_dir = log_dir
        self.children: dict[str, subprocess.Popen] = {}

    def command(self, name: str) -> list[str]:
        if name in SERVICES:
            return [self.python, "-m", "medcode_common.runner", SERVICES[name]]
        return [self.python, "-m", PROCESSES[name]]

    def start(self, *names: str) -> None:
        """Start the named processes (every service and process when none is named)."""
        for name in names or (*SERVICES, *PROCESSES):
            if self.log_dir is None:
                self.children[name] = subprocess.Popen(self.command(name), env=self.env)
                continue
            with open(self.log_dir / f"{name}.log", "a") as log:
                self.children[name] = subprocess.Popen(
                    self.command(name), env=self.env, stdout=log, stderr=subprocess.STDOUT
                )

    def dead(self) -> list[str]:
        return [name for name, proc in self.children.items() if proc.poll() is not None]

    def wait_ready(self, url: str, timeout: float = READY_TIMEOUT) -> bool:
        """True once `url` answers 200; False after `timeout`, or at once when a child exits."""

        def answer() -> bool | None:  # None: not yet
            if self.dead():
                return False
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    return True if response.status == 200 else None
            except (urllib.error.URLError, OSError):
                return None

        poll = Retrying(
            stop=stop_after_delay(timeout),
            wait=wait_fixed(READY_POLL),
            retry=retry_if_result(lambda ready: ready is None),
            retry_error_callback=lambda _: False,
        )
        return bool(poll(answer))

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash (a service's queue stays, with nobody consuming it)."""
        proc = self.children.pop(name)
        proc.kill()
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for proc in self.children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.children.clear()


def main() -> int:
    settings = settings_or_exit(load_settings)
    base = f"http://{settings.GATEWAY_HOST}:{settings.GATEWAY_PORT}"
    platform = Platform()
    stopping = False

    def request_stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    platform.start()
    print("Starting services: " + ", ".join(platform.children), flush=True)
    if not platform.wait_ready(f"{base}/readyz"):
        dead = platform.dead()
        print(
            "error: the platform did not become ready"
            + (f" ({', '.join(dead)} exited)" if dead else f" within {READY_TIMEOUT:.0f} s"),
            file=sys.stderr,
        )
        platform.stop()
        return 1
    print(
        f"\nThe platform is running.\n  Web app: {base}/\n  GraphQL (GraphiQL in a browser): {base}/graphql\n"
        f"  Readiness: {base}/readyz\n  Liveness:  {base}/healthz\nPress Ctrl-C to stop.\n",
        flush=True,
    )
    exit_code = 0
    while not stopping:
        dead = platform.dead()
        if dead:
            print(f"error: {', '.join(dead)} exited; stopping the platform", file=sys.stderr)
            exit_code = 1
            break
        time.sleep(0.5)
    print("Stopping...", flush=True)
    platform.stop()
    stop_broker_if_we_started_it(os.environ.get("MEDCODE_BROKER_MARKER"))
    return exit_code


def stop_broker_if_we_started_it(marker: str | None) -> None:
    """`make run` started RabbitMQ only if it was not running (the marker says so); what
    it started, it stops."""
    if marker and os.path.exists(marker):
        print("Stopping RabbitMQ (started by make run)...", flush=True)
        subprocess.run(["rabbitmqctl", "stop"], check=False, stdout=subprocess.DEVNULL)
        os.remove(marker)


if __name__ == "__main__":
    sys.exit(main())
