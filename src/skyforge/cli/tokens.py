"""`skyforge tokens`: your personal API tokens (for scripts and CI)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer

from skyforge.cli.client import connect, segment
from skyforge.cli.options import Json, Quiet
from skyforge.cli.output import ids, note, print_json, say, table, warn, when

app = typer.Typer(help="Create, list and revoke your personal API tokens.", no_args_is_help=True)


class Scope(StrEnum):
    read = "read"
    write = "write"
    admin = "admin"


def _status(token: dict[str, Any]) -> str:
    if token["revoked_at"]:
        return "revoked"
    expires = token["expires_at"]
    if expires and datetime.fromisoformat(expires) <= datetime.now(UTC):
        return "expired"
    return "active"


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="A name to recognize it by, e.g. ci.")],
    scope: Annotated[
        Scope, typer.Option(help="What it may do (at most what your own credential may).")
    ] = Scope.write,
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="Expire after this many days.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Create a personal API token; its secret is printed this once only."""
    body: dict[str, Any] = {"name": name, "scope": scope.value}
    if expires_in_days is not None:
        body["expires_in_days"] = expires_in_days
    with connect() as api:
        created = api.call("POST", "/tokens", json=body)
    if as_json:
        print_json(created)
        return
    expiry = f"expires {when(created['expires_at'])}" if created["expires_at"] else "no expiry"
    say(f"Created token {created['name']} ({created['id']}, {created['scope']}, {expiry}):")
    typer.echo(created["token"])
    warn(
        "this is the only time the token is shown: store it now (a password manager, a CI secret)."
    )
    note("Use it with SKYFORGE_TOKEN=<token> or `skyforge login --token`.")


@app.command("list")
def list_tokens(as_json: Json = False, quiet: Quiet = False) -> None:
    """List your tokens (never their secrets)."""
    with connect() as api:
        found: list[dict[str, Any]] = api.call("GET", "/tokens")["items"]
    if as_json:
        print_json(found)
        return
    if quiet:
        ids(t["id"] for t in found)
        return
    rows = [
        (
            t["id"],
            t["name"],
            t["scope"],
            _status(t),
            when(t["created_at"]),
            when(t["expires_at"]) or "never",
            when(t["last_used_at"]) or "never",
        )
        for t in found
    ]
    columns = ("ID", "NAME", "SCOPE", "STATUS", "CREATED", "EXPIRES", "LAST USED")
    table(columns, rows, "No tokens yet: `skyforge tokens create NAME`.")


@app.command()
def revoke(
    token_id: Annotated[str, typer.Argument(help="Token id (from `skyforge tokens list`).")],
) -> None:
    """Revoke a token: it is refused from now on."""
    with connect() as api:
        api.call("DELETE", f"/tokens/{segment(token_id)}")
    say(f"Revoked token {token_id}.")
