"""One codes service process on its own (a fresh RabbitMQ vhost, a loaded data directory),
for the benchmarks that measure that process alone (benchmarks.codes_cpu, codes_memory).

    with codes_service(data_dir, "codes-cpu") as (service, amqp_uri):
        ...   # service: the Popen, answering on amqp_uri
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

READY_SECONDS = 90  # a full index opens and the rules snapshot is read before it answers


@contextmanager
def codes_service(data_dir: Path, prefix: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """The codes service on `data_dir`, started and answering its health RPC; stopped on exit.
    Its log goes to a temporary file."""
    from medcode_common.broker_admin import TemporaryVhost
    from medcode_common.launcher import SERVICES

    with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as tmp, TemporaryVhost(prefix) as vhost:
        env = dict(os.environ, AMQP_URI=vhost.amqp_uri, DATA_DIR=str(data_dir), HEALTH_PORT="0")
        with open(Path(tmp) / "codes.log", "w") as log:
            service = subprocess.Popen(
                [sys.executable, "-m", "medcode_common.runner", SERVICES["codes"]],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            asyncio.run(_answers(vhost.amqp_uri))
            yield service, vhost.amqp_uri
        finally:
            service.terminate()
            service.wait(30)


async def _answers(amqp_uri: str) -> None:
    from medcode_common.aio_rpc import RpcClient

    async with RpcClient(amqp_uri, timeout=30, caller="bench") as rpc:
        # The service is up once it answers (until then its queue does not exist).
        async for attempt in AsyncRetrying(stop=stop_after_delay(READY_SECONDS), wait=wait_fixed(1), reraise=True):
            with attempt:
                await rpc.call("codes", "health", timeout=2)
