"""`make run`'s launcher: starts every part, prints the URLs when ready, and on SIGTERM
(or when one part dies) stops everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from gateway.testing import free_port
from medcode_common.broker_admin import TemporaryVhost
from medcode_common.testing import local_platform_env

READY_TIMEOUT = 180


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def launcher(tmp_path):
    with TemporaryVhost("launcher") as vhost:
        port = free_port()
        env = dict(os.environ, **local_platform_env(vhost.amqp_uri, tmp_path, port), PYTHONUNBUFFERED="1")
        env.pop("DATABASE_URL", None)
        log = open(tmp_path / "launcher.log", "w+")
        proc = subprocess.Popen(
            [sys.executable, "-m", "medcode_common.launcher"], env=env, stdout=log, stderr=subprocess.STDOUT
        )

        def said_ready() -> bool:
            assert proc.poll() is None, (tmp_path / "launcher.log").read_text()[-3000:]
            return "The platform is running." in (tmp_path / "launcher.log").read_text()

        poll = Retrying(
            stop=stop_after_delay(READY_TIMEOUT),
            wait=wait_fixed(0.5),
            retry=retry_if_result(lambda ok: not ok),
            retry_error_callback=lambda _: False,
        )
        assert poll(said_ready), "the launcher never said it was ready"
        try:
            yield proc, f"http://127.0.0.1:{port}", tmp_path / "launcher.log"
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()


def test_prints_the_urls_serves_graphql_and_stops_everything_on_sigterm(launcher):
    proc, url, log = launcher
    output = log.read_text()
    assert f"{url}/graphql" in output and f"{url}/readyz" in output
    assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
    assert httpx.post(f"{url}/graphql", json={"query": "{ __typename }"}, timeout=10).json() == {
        "data": {"__typename": "Query"}
    }
    children = _children(proc.pid)
    assert len(children) == 8  # five services, the gateway, the development mail relay, the mail ingress

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert not [pid for pid in children if _alive(pid)]


def test_one_part_dying_stops_the_whole_platform(launcher):
    proc, _, log = launcher
    children = _children(proc.pid)
    os.kill(children[0], signal.SIGKILL)
    assert proc.wait(timeout=60) == 1
    assert "exited; stopping the platform" in log.read_text()
    assert not [pid for pid in children if _alive(pid)]


def test_a_bad_variable_stops_it_at_once_naming_the_variable(tmp_path):
    env = dict(os.environ, GATEWAY_PORT="eighty", DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "medcode_common.launcher"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "GATEWAY_PORT" in result.stderr
