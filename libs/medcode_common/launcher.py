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

from .settings import ConfigError, load_settings

# module:Class of each service; strings, so the launcher imports no service code.
SERVICES = {
    "codes": "codes.service:CodesService",
    "accounts": "accounts.service:AccountsService",
    "metering": "metering.service:MeteringService",
    "assistant": "assistant.service:AssistantService",
    "careers": "careers.service:CareersService",
}
READY_TIMEOUT = 120.0
STOP_GRACE = 15.0


class Platform:
    def __init__(self, python: str = sys.executable, env: dict | None = None):
        self.python = python
        self.env = dict(os.environ if env is None else env)
        self.children: dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        for name, target in SERVICES.items():
            self.children[name] = subprocess.Popen(
                [self.python, "-m", "medcode_common.runner", target], env=self.env)
        self.children["gateway"] = subprocess.Popen([self.python, "-m", "gateway"], env=self.env)
        # The development mail relay: outgoing mail lands in DATA_DIR/outbox, not the internet.
        self.children["mail-relay"] = subprocess.Popen([self.python, "-m", "medcode_common.mail"], env=self.env)
        # The assistant by email: the SMTP listener for ASK_ADDRESS (SMTP_PORT).
        self.children["mail-ingress"] = subprocess.Popen([self.python, "-m", "mail_ingress"], env=self.env)

    def dead(self) -> list[str]:
        return [name for name, proc in self.children.items() if proc.poll() is not None]

    def wait_ready(self, url: str, timeout: float = READY_TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.dead():
                return False
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        return False

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


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
        print("error: the platform did not become ready"
              + (f" ({', '.join(dead)} exited)" if dead else f" within {READY_TIMEOUT:.0f} s"),
              file=sys.stderr)
        platform.stop()
        return 1
    print(f"\nThe platform is running.\n  Web app: {base}/\n  GraphQL (GraphiQL in a browser): {base}/graphql\n"
          f"  Readiness: {base}/readyz\n  Liveness:  {base}/healthz\nPress Ctrl-C to stop.\n", flush=True)
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
