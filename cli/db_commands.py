"""`dunning db upgrade` and `dunning db status`: the store's migrations, by hand.

Workers apply pending migrations themselves when they open the store, unless
`DUNNING_DATABASE_AUTO_MIGRATE=false`; then ops run `dunning db upgrade` as a release step and
`dunning db status` to see where a database stands. The URL printed always has its password
masked. A bad or unreachable database is one line on stderr and exit 2.
"""

from __future__ import annotations

import typer

from config.settings import SettingsError, load_settings
from store import StoreError, mask_url, store_status, upgrade_store

db_app = typer.Typer(help="The shared store's database: migrations.", no_args_is_help=True)


def _store_url() -> str:
    """Read afresh (not `get_settings()`, which caches the first read for the process)."""
    try:
        return load_settings().store_url
    except SettingsError as exc:
        typer.echo(f"settings: {exc}", err=True)
        raise typer.Exit(2) from None


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(" ".join(str(exc).split()), err=True)
    return typer.Exit(2)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations, in order, each once; print what was applied."""
    url = _store_url()
    try:
        applied = upgrade_store(url)
    except StoreError as exc:
        raise _fail(exc) from None
    typer.echo(f"database: {mask_url(url)}")
    if not applied:
        typer.echo("up to date: no pending migrations")
    for migration in applied:
        typer.echo(f"applied {migration.label}")


@db_app.command("status")
def db_status() -> None:
    """The database (password masked), its applied and pending migrations."""
    url = _store_url()
    try:
        status = store_status(url)
    except StoreError as exc:
        raise _fail(exc) from None
    typer.echo(f"database: {status.url} ({status.dialect})")
    for applied in status.applied:
        typer.echo(f"applied  {applied.label}  {applied.applied_at.isoformat(timespec='seconds')}")
    for pending in status.pending:
        typer.echo(f"pending  {pending.label}")
    if status.pending:
        typer.echo(f"{len(status.pending)} pending: run `dunning db upgrade`")
    else:
        typer.echo("up to date")
