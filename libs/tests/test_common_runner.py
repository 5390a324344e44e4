"""The service runner's start: a container that dies while it starts ends the start with
its error (the process exits), instead of leaving Nameko's start waiting for ever."""

import eventlet
import pytest
from nameko.extensions import DependencyProvider

from medcode_common.runner import start_services

# Guards against a start that never returns, so the test fails instead of hanging.
HANG_GUARD = 15


class WaitsForAConsumer(DependencyProvider):
    """Like a reply listener whose consumer thread died: its start waits for a ready signal
    that never comes."""

    def start(self):
        eventlet.event.Event().wait()


class ConsumerDies(DependencyProvider):
    def start(self):
        self.container.spawn_managed_thread(self._consume)

    def _consume(self):
        raise ConnectionError("the consumer died")


class DiesWhileStarting:
    name = "dies_while_starting"

    waits = WaitsForAConsumer()
    dies = ConsumerDies()


class Starts:
    name = "starts"

    plain = DependencyProvider()


def test_a_container_that_dies_while_starting_ends_the_start_with_its_error(runner_factory):
    runner = runner_factory(DiesWhileStarting)
    with eventlet.Timeout(HANG_GUARD), pytest.raises(ConnectionError, match="the consumer died"):
        start_services(runner)


def test_a_started_service_runs_until_it_is_stopped(runner_factory):
    runner = runner_factory(Starts)
    with eventlet.Timeout(HANG_GUARD):
        running = start_services(runner)
    assert not running.dead
    runner.stop()
    with eventlet.Timeout(HANG_GUARD):
        running.wait()
    assert running.dead
