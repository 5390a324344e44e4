"""Command line of the accounts service.

python -m accounts.cli make-admin someone@example.org     (make admin EMAIL=...)
"""

from __future__ import annotations

import sys

import typer

from medcode_common.settings import settings_or_exit
from medcode_contracts import accounts as contract
from medcode_contracts.errors import PlatformError

from . import storage
from .config import load_accounts_settings
from .domain import Accounts

app = typer.Typer(add_completion=False, help="Accounts administration.")


@app.callback()
def main() -> None:
    """Accounts administration (more commands may follow)."""


@app.command("make-admin")
def make_admin(email: str = typer.Argument(..., help="email address of an existing account")) -> None:
    """Give an existing account the ADMIN role."""
    settings = settings_or_exit(load_accounts_settings)
    engine = storage.SCHEMA.open(settings.database_url(contract.SERVICE))
    try:
        # No password hashing or tokens needed here: only the store is used.
        accounts = Accounts(storage.AccountStore(engine), passwords=None, tokens=None, settings=settings)  # type: ignore[arg-type]
        account = accounts.make_admin(email)
    except PlatformError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(f"{account.email} is now ADMIN (account {account.id})")


if __name__ == "__main__":
    sys.exit(app())
