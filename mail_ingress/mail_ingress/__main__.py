"""`python -m mail_ingress`: the SMTP listener and the answering loop, until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from medcode_common.settings import settings_or_exit

from .processor import Processor
from .server import IngressHandler, start_listener
from .settings import load_mail_settings
from .store import SCHEMA, MailStore

log = logging.getLogger("mail_ingress")


async def serve(settings) -> None:
    from medcode_common.aio_rpc import RpcClient  # the platform's asyncio Nameko RPC client

    # Migrated in a child process: the listener runs for long and never needs Alembic again.
    engine = await asyncio.to_thread(SCHEMA.open, settings.database_url(SCHEMA.database), in_child=True)
    store = MailStore(engine)
    rpc = RpcClient(settings.AMQP_URI, timeout=settings.RPC_TIMEOUT, caller="mail-ingress")
    await rpc.start()
    processor = Processor(store, rpc, settings, settings.SMTP_RELAY, ask_timeout=settings.MAIL_ASK_TIMEOUT)
    handler = IngressHandler(store, settings.ASK_ADDRESS, settings.MAIL_MAX_BYTES, processor.wakeup.set)
    server = await start_listener(handler, settings.SMTP_HOST, settings.SMTP_PORT, settings.MAIL_MAX_BYTES)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("mail ingress for %s listening on %s:%d", settings.ASK_ADDRESS, settings.SMTP_HOST, settings.SMTP_PORT)
    try:
        await processor.run(stop)
    finally:
        server.close()
        await server.wait_closed()
        await rpc.close()
        engine.dispose()


def main() -> int:
    settings = settings_or_exit(load_mail_settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # aiosmtpd logs every SMTP command at INFO, addresses included: personal data.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
