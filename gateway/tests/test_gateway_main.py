"""`python -m gateway` refuses a bad configuration at start, naming the variable, and keeps
what start made out of the garbage collector's generations."""

from __future__ import annotations

import gc
import os
import subprocess
import sys


def test_bad_variable_exits_2_naming_it():
    env = {**os.environ, "GATEWAY_PORT": "not-a-port"}
    done = subprocess.run([sys.executable, "-m", "gateway"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "GATEWAY_PORT" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_limit_exits_2_naming_it():
    env = {**os.environ, "RATE_LIMIT_PER_MINUTE": "lots"}
    done = subprocess.run([sys.executable, "-m", "gateway"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "RATE_LIMIT_PER_MINUTE" in done.stderr and "Traceback" not in done.stderr


def test_what_start_made_is_frozen_before_serving(monkeypatch):
    import uvicorn

    from gateway import __main__ as gateway_main

    frozen_when_serving = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: frozen_when_serving.append(gc.get_freeze_count()))
    try:
        assert gateway_main.main() == 0
    finally:
        gc.unfreeze()
    assert frozen_when_serving and frozen_when_serving[0] > 0
