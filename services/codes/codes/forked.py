"""A function run in a forked process of the loader, its outcome handed back through a
file: no threads and no pipes, so it also works under eventlet (the service tests)."""

from __future__ import annotations

import multiprocessing
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path


class ForkedCall:
    """`target(*args)` in a forked process; `result()` waits for it and returns its value or
    raises its exception (made a RuntimeError when it cannot be pickled)."""

    def __init__(self, target: Callable, *args, name: str = "codes-load"):
        self._outcome = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".pickle")[1])
        self._process = multiprocessing.get_context("fork").Process(
            target=_run, args=(self._outcome, target, args), name=name
        )
        self._process.start()

    def running(self) -> bool:
        return self._process.is_alive()

    def result(self):
        self._process.join()
        try:
            kind, value = pickle.loads(self._outcome.read_bytes())
        except (OSError, EOFError, pickle.UnpicklingError):
            raise RuntimeError(f"{self._process.name} ended with exit code {self._process.exitcode}") from None
        if kind == "error":
            raise value
        return value

    def stop(self) -> None:
        """Ends the process if it still runs (this side failed first); removes the outcome file."""
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._outcome.unlink(missing_ok=True)


def _run(outcome: Path, target: Callable, args: tuple) -> None:
    try:
        result: tuple = ("value", target(*args))
    except Exception as exc:  # handed to the parent, which raises it
        try:
            pickle.dumps(exc)
            result = ("error", exc)
        except Exception:
            result = ("error", RuntimeError(f"{type(exc).__name__}: {exc}"))
    outcome.write_bytes(pickle.dumps(result))
