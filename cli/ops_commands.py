"""`dunning ops hash-password`, and the one-time console token of `dunning dev`.

The console (`/ops` in the webhook server, docs/ops.md) logs in with a password whose argon2
hash is in `DUNNING_OPS_PASSWORD_HASH`, or with `DUNNING_OPS_TOKEN`. The hash is made here, from
a password typed twice without echo: the password itself is never in a file, a shell history
or the environment. The prompts go to stderr, so `$(dunning ops hash-password)` captures only
the hash.
"""

from __future__ import annotations

import ipaddress
import secrets

import typer
from rich.console import Console

from config.settings import Settings

ops_app = typer.Typer(help="The ops console (/ops in the webhook server).", no_args_is_help=True)
MIN_PASSWORD = 12


def hash_password(password: str) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


@ops_app.command("hash-password")
def hash_password_command() -> None:
    """Prompt for a password (twice, not echoed); print its argon2 hash for
    DUNNING_OPS_PASSWORD_HASH."""
    password = typer.prompt("Console password", hide_input=True, confirmation_prompt=True, err=True)
    if len(password) < MIN_PASSWORD:
        typer.echo(f"password: at least {MIN_PASSWORD} characters", err=True)
        raise typer.Exit(2)
    typer.echo(hash_password(password))


def with_dev_ops_token(settings: Settings, webhooks: bool, out: Console) -> Settings:
    """`dunning dev` with no console login configured: a random token for this run only, and
    the console's address printed with it, so `make run` gives a usable console. Only on a
    loopback host: a token printed to a terminal (and kept in its scrollback) is a fine key to
    a console only this machine reaches, not to one `DUNNING_WEBHOOK_HOST` opens to a network."""
    if not webhooks or settings.ops_password_hash is not None or settings.ops_token is not None:
        return settings
    if not is_loopback(settings.webhook_host):
        out.print(
            f"warning: ops console off: DUNNING_WEBHOOK_HOST={settings.webhook_host} is not a "
            "loopback address, so no one-time token is made; to use the console set "
            "DUNNING_OPS_PASSWORD_HASH (`dunning ops hash-password`) or DUNNING_OPS_TOKEN "
            "(docs/ops.md)",
            markup=False,
            highlight=False,
        )
        return settings
    from pydantic import SecretStr

    token = secrets.token_urlsafe(24)
    out.print(
        f"ops console: http://{settings.webhook_host}:{settings.webhook_port}/ops/login "
        f"(token for this run: {token})",
        markup=False,
        highlight=False,
        soft_wrap=True,  # one line whatever the width: the token is copied whole
    )
    return settings.model_copy(update={"ops_token": SecretStr(token)})


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or `localhost`; 0.0.0.0 and every other address are not."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False
