"""The `skyforge` command. Every command but `up` is a client of the REST API only."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from skyforge import __version__
from skyforge.cli import (
    accounts,
    deploys,
    env,
    gitremote,
    logs,
    maintenance,
    members,
    projects,
    services,
    session,
    tokens,
)
from skyforge.cli import databases as database_commands
from skyforge.cli import domains as domain_commands
from skyforge.cli import drains as drain_commands
from skyforge.cli import help as help_text
from skyforge.cli import processes as process_commands
from skyforge.cli import secrets as secret_commands
from skyforge.cli import webhooks as webhook_commands

help_text.install()
app = typer.Typer(
    help="SkyForge: from a git repository to a running app at a URL.", no_args_is_help=True
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"skyforge {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """SkyForge: from a git repository to a running app at a URL."""


class _UpCommand(TyperCommand):
    """`up --help` also lists the settings (read from the Settings model only when asked)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:  # click's, vendored by Typer
        super().format_help(ctx, formatter)
        from skyforge.cli.up import settings_help

        formatter.write(settings_help())


@app.command(cls=_UpCommand)
def up() -> None:
    """Start SkyForge (API, portal, edge router) with embedded defaults.

    Every setting is an environment variable, listed below with its default (empty: unset).
    """
    from skyforge.cli.up import run

    run()


app.command()(session.login)
app.command()(session.logout)
app.command()(session.whoami)
app.add_typer(tokens.app, name="tokens")
app.add_typer(projects.app, name="projects")
app.add_typer(services.app, name="services")
app.command()(deploys.deploy)
app.add_typer(deploys.app, name="deploys")
app.command()(deploys.releases)
app.command("releases:info")(deploys.release_info)
app.command()(deploys.rollback)
app.command()(services.scale)
app.command()(process_commands.ps)
app.command()(process_commands.restart)
app.command()(process_commands.run)
app.add_typer(env.app, name="env")
app.add_typer(secret_commands.app, name="secrets")
app.add_typer(domain_commands.app, name="domains")
app.add_typer(webhook_commands.app, name="webhooks")
app.add_typer(database_commands.app, name="db")
app.command()(logs.logs)
app.add_typer(drain_commands.app, name="drains")
app.command("open")(services.open_service)
app.command("git:remote")(gitremote.git_remote)
app.command()(maintenance.maintenance)
app.add_typer(members.app, name="members")
app.command()(accounts.invite)
app.command()(accounts.signup)
