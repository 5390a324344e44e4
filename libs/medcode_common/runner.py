"""Start one Nameko service after checking the configuration.

    python -m medcode_common.runner codes.service:CodesService

Differs from `nameko run` only in that a bad environment variable stops the process with
a one-line message naming it (exit status 2) before anything connects (the service's one
settings class: the ServiceSettings subclass in its package's `config` module, e.g.
accounts.config.AccountsSettings), and that the process
serves its own liveness and readiness on HEALTH_PORT (medcode_common.health). SIGTERM
stops gracefully. SIGUSR1 writes every thread's and green thread's stack to the log
(`kill -USR1 <pid>`), for a process that is alive but answers nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .settings import ServiceSettings

import importlib
import logging
import os
import sys


def nameko_config(settings) -> dict:
    return {
        "AMQP_URI": settings.AMQP_URI,
        "SERIALIZER": "json",
        # Replies must not wait behind a long prefetch of slow requests.
        "max_workers": 10,
        "parent_calls_tracked": 10,
    }


def service_settings_class(target: str) -> type[ServiceSettings]:
    """The settings class of the service `module:Class` names: the ServiceSettings subclass
    its package's `config` module defines (ServiceSettings itself if it defines none)."""
    from .settings import ServiceSettings

    module_name = target.split(":")[0].split(".")[0] + ".config"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return ServiceSettings
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, ServiceSettings) and value.__module__ == module_name
    ]
    if len(found) > 1:
        raise TypeError(f"{module_name} defines several service settings classes: {found}")
    return found[0] if found else ServiceSettings


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m medcode_common.runner <module>:<ServiceClass>", file=sys.stderr)
        return 2
    patch_eventlet()
    from .settings import ConfigError, read_settings

    try:
        settings_class = service_settings_class(argv[0])
        settings = read_settings(
            settings_class, f"{argv[0].split('.')[0]} configuration", show_values=not settings_class.DEV_SECRETS
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from nameko import config

    config.setup(nameko_config(settings))
    from .telemetry import instrument_nameko

    instrument_nameko(argv[0].split(".")[0])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run(argv[0], settings.AMQP_URI, settings)
    return 0


def patch_eventlet() -> None:
    """eventlet.monkey_patch(), before anything else is imported, as eventlet requires;
    without eventlet's green DNS resolver unless EVENTLET_NO_GREENDNS says otherwise: it
    imports dnspython, some 7 MB of every service process's 150 MB (issue 13), and a
    service resolves a name only when it connects (broker, database, mail relay), where
    the system's own resolver blocks for next to no time."""
    os.environ.setdefault("EVENTLET_NO_GREENDNS", "yes")
    import eventlet

    eventlet.monkey_patch()


def dump_stacks_on(signum: int) -> None:
    """On `signum`, the stacks of the OS threads at once (faulthandler, from C: also when a
    C call such as a SQLite busy wait holds the process) and, once Python runs again, of
    every green thread, which faulthandler does not see."""
    import faulthandler
    import gc
    import signal
    import traceback

    import greenlet

    def green_stacks(_signum, _frame):
        for thread in (obj for obj in gc.get_objects() if isinstance(obj, greenlet.greenlet)):
            if thread.gr_frame is not None:
                stack = "".join(traceback.format_stack(thread.gr_frame))
                print(f"--- green thread {thread!r}\n{stack}", file=sys.stderr)
        sys.stderr.flush()

    signal.signal(signum, green_stacks)
    # After signal.signal, which would replace it; chain=True then also runs green_stacks.
    faulthandler.register(signum, all_threads=True, chain=True)


def start_services(service_runner):
    """`service_runner.start()`; returns the green thread that waits until the services stop.
    Raises the error of a container that dies while it starts: Nameko's start would then
    wait for ever for the dead container's extensions (a consumer whose thread died never
    becomes ready), and the process would stay up answering nothing instead of exiting for
    the launcher or Kubernetes to see and restart."""
    import eventlet
    from eventlet.queue import LightQueue

    stopped = eventlet.spawn(service_runner.wait)
    starting = eventlet.spawn(service_runner.start)
    first_done = LightQueue()
    stopped.link(first_done.put)
    starting.link(first_done.put)
    if first_done.get() is stopped:
        starting.kill()
        stopped.wait()  # the dead container's error (none when SIGTERM stopped the start)
        return stopped
    starting.wait()  # start's own error, if it raised
    return stopped


def run(target: str, amqp_uri: str, health_settings) -> None:
    """What `nameko run` does, plus the health endpoints in the same process."""
    import signal

    import eventlet
    from nameko.cli.utils import import_services
    from nameko.runners import ServiceRunner

    from . import health

    if "." not in sys.path:
        sys.path.append(".")
    service_runner = ServiceRunner()
    for service_cls in import_services(target):
        service_runner.add_service(service_cls)
    signal.signal(signal.SIGTERM, lambda signum, frame: eventlet.spawn_n(service_runner.stop))
    dump_stacks_on(signal.SIGUSR1)
    runnlet = start_services(service_runner)
    health.serve(service_runner, amqp_uri, health_settings)
    try:
        runnlet.wait()
    except KeyboardInterrupt:
        service_runner.stop()


if __name__ == "__main__":
    sys.exit(main())
