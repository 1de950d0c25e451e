"""`skyforge invite` and `skyforge signup`: new accounts come from invitations."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from skyforge.cli.client import Api, connect
from skyforge.cli.config import Config
from skyforge.cli.output import note, say, warn, when
from skyforge.cli.session import Url, resolve_url


class OrgRole(StrEnum):
    member = "member"
    admin = "admin"


def invite(
    email: Annotated[str, typer.Argument(help="The e-mail address of the person to invite.")],
    org_role: Annotated[
        OrgRole, typer.Option(help="admin: manages the organization and every project.")
    ] = OrgRole.member,
) -> None:
    """Invite someone to the organization (organization admins only)."""
    body = {"email": email, "org_role": org_role.value}
    with connect() as api:
        made = api.call("POST", "/invitations", json=body)
    say(f"Invited {made['email']} as {made['org_role']}, until {when(made['expires_at'])}:")
    typer.echo(made["token"])
    warn("the invitation token is shown only now: send it to them privately.")
    note(
        f"They sign up with: skyforge signup --url {api.url} --email {made['email']} "
        "--name 'Their Name' --invitation <token>"
    )


def signup(
    email: Annotated[str, typer.Option(help="Your e-mail address (the invited one).")],
    name: Annotated[str, typer.Option(help="Your name, as others will see it.")],
    invitation: Annotated[
        str, typer.Option(prompt="Invitation token", hide_input=True, help="The invitation token.")
    ],
    url: Url = None,
) -> None:
    """Create your account from an invitation (the password is asked for, hidden)."""
    url = resolve_url(url)
    password = typer.prompt(
        "Password (12 characters or more)", hide_input=True, confirmation_prompt=True
    )
    body = {"invitation": invitation.strip(), "email": email, "password": password, "name": name}
    with Api(Config(url), login_required=False) as api:
        user = api.call("POST", "/auth/signup", json=body)
    say(f"Created the account {user['email']}.", style="green")
    note(f"Log in with: skyforge login --url {url} --email {user['email']}")
