"""`python -m accounts.cli make-admin EMAIL` (what `make admin EMAIL=...` runs)."""

import os
import subprocess
import sys

from accounts import storage
from accounts.config import load_accounts_settings
from accounts.dependencies import build_accounts
from medcode_common.db import make_engine
from medcode_contracts.accounts import RegisterRequest, Role


def make_admin(tmp_path, email):
    env = dict(os.environ, DATA_DIR=str(tmp_path))
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "accounts.cli", "make-admin", email], env=env, capture_output=True, text=True, timeout=60
    )


def test_make_admin_promotes_an_existing_account_and_explains_a_missing_one(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'accounts.sqlite3'}")
    storage.SCHEMA.upgrade(engine)
    accounts = build_accounts(engine, load_accounts_settings())
    accounts.register(RegisterRequest(email="ann@example.org", password="s3cret-pass", name="Ann"))

    done = make_admin(tmp_path, " Ann@Example.org")
    assert done.returncode == 0, done.stderr
    assert "ann@example.org is now ADMIN" in done.stdout
    assert accounts.store.find_by_email("ann@example.org").role is Role.ADMIN

    missing = make_admin(tmp_path, "ghost@example.org")
    assert missing.returncode == 1 and "register it first" in missing.stderr
    engine.dispose()
