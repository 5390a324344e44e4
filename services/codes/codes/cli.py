"""Command line of the codes service.

    python -m codes.cli load [--system ICD10CM ...] [--no-rules] [--no-parallel]
                                                       load the available releases, then the
                                                       coding rules (NCCI PTP, MUE, GEMs, index
                                                       lay terms, licensed CPT) and the CPT codes;
                                                       the search index is built meanwhile
    python -m codes.cli status                         list the loaded editions

Exit status 1 with a one-line message on a malformed release (naming file and line) or a
bad configuration variable (naming it).
"""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from medcode_common.settings import ConfigError
from medcode_contracts.codes import CodeSystem

from .release_files import MalformedRelease

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Code sets of the codes service.")

LOADABLE = [CodeSystem.ICD10CM.value, CodeSystem.ICD10PCS.value, CodeSystem.HCPCS.value]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def _settings():
    from .config import load_loader_settings

    try:
        return load_loader_settings()
    except ConfigError as exc:
        _fail(str(exc))


@app.command()
def load(
    system: Annotated[
        list[str] | None,
        typer.Option("--system", "-s", help=f"Load only this system (repeatable): {', '.join(LOADABLE)}."),
    ] = None,
    progress: Annotated[
        bool | None, typer.Option(help="Show progress bars (default: when writing to a terminal).")
    ] = None,
    rules: Annotated[
        bool, typer.Option(help="Also load the coding rules and the CPT codes (skipped when --system is given).")
    ] = True,
    parallel: Annotated[
        bool,
        typer.Option(
            help="Write the database in a second process while this one builds the search index, and a first "
            "load of the PTP tables in a third (with the rules)."
        ),
    ] = True,
) -> None:
    """Load the official releases that are available and not loaded yet."""
    from .loading import load_available

    settings = _settings()
    systems = []
    for name in system or []:
        if name.upper() not in LOADABLE:
            _fail(f"--system {name!r}: choose from {', '.join(LOADABLE)}")
        systems.append(CodeSystem(name.upper()))
    if progress is None:  # bars redraw in place: in a log file they would only be noise
        progress = sys.stderr.isatty()
    started = time.monotonic()
    try:
        reports = load_available(
            settings,
            systems or None,
            show_progress=progress,
            rules=rules and not systems,
            say=typer.echo,
            parallel=parallel,
        )
    except MalformedRelease as exc:
        _fail(f"malformed release: {exc} (the edition loaded before stays in place)")
    for report in reports:
        if report.status == "loaded":
            typer.echo(
                f"{report.system}: loaded {report.edition} ({report.codes:,} codes: "
                f"{report.added:,} added, {report.deleted:,} deleted, {report.revised:,} revised) "
                f"in {report.seconds:.1f} s"
            )
        elif report.status == "already loaded":
            typer.echo(f"{report.system}: {report.edition} already loaded")
        elif report.system == CodeSystem.CPT.value:
            typer.echo("CPT: no codes (no NCCI PTP/MUE file in DATA_MIRROR and no licensed CPT_FILE)")
        else:
            typer.echo(f"{report.system}: no release found (set DATA_MIRROR to a mirror of the official files)")
    typer.echo(f"done in {time.monotonic() - started:.1f} s")
    _print_editions(settings)


@app.command()
def status() -> None:
    """List the editions currently loaded."""
    _print_editions(_settings())


def _print_editions(settings) -> None:
    from medcode_common.db import make_engine

    from .storage import CodeStore

    engine = make_engine(settings.database_url("codes"))
    try:
        store = CodeStore(engine)
        store.migrate()
        editions = store.current_editions()
    finally:
        engine.dispose()
    if not editions:
        typer.echo("no editions loaded (run: python -m codes.cli load)")
        return
    rows = [("system", "edition", "effective", "codes", "billable", "loaded at")]
    for e in editions:
        rows.append(
            (
                e.system.value,
                e.name,
                e.effective_from,
                f"{e.counts.get('codes', 0):,}",
                f"{e.counts.get('billable', 0):,}",
                e.loaded_at[:19].replace("T", " "),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for number, row in enumerate(rows):
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if number == 0:
            typer.echo("  ".join("-" * width for width in widths))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
