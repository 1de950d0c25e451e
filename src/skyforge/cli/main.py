"""The `skyforge` command. Every command but `up` is a client of the REST API only."""

from __future__ import annotations

import typer

app = typer.Typer(help="SkyForge: from a git repository to a running app at a URL.",
                  no_args_is_help=True)


@app.command()
def up() -> None:
    """Start SkyForge (API, portal, edge router) with embedded defaults."""
    from skyforge.cli.up import run

    run()
