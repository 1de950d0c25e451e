"""Personal tokens, project members and invitations through the CLI, against a real API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.cli.conftest import PASSWORD, Cli


@pytest.fixture
def project(cli: Cli) -> str:
    name = f"p-{uuid.uuid4().hex[:8]}"
    assert cli("projects", "create", name).exit_code == 0
    return name


def members(cli: Cli, project: str) -> dict[str, str]:
    result = cli("members", "list", "-p", project, "--json")
    assert result.exit_code == 0, result.output
    return {m["email"]: m["role"] for m in json.loads(result.stdout)}


def test_a_created_token_is_shown_once_works_and_stops_working_when_revoked(cli: Cli) -> None:
    created = cli("tokens", "create", "ci bot", "--scope", "read", "--expires-in-days", "7")

    assert created.exit_code == 0, created.output
    secret = next(line for line in created.stdout.splitlines() if line.startswith("sfp_"))
    assert "only time the token is shown" in created.stderr
    assert secret not in created.stderr
    me = cli("whoami", SKYFORGE_TOKEN=secret)
    assert me.exit_code == 0, me.output
    assert "personal token" in me.stdout
    listed = json.loads(cli("tokens", "list", "--json").stdout)
    token = next(t for t in listed if t["name"] == "ci bot")
    assert (token["scope"], token["revoked_at"]) == ("read", None)
    assert secret not in cli("tokens", "list").stdout

    revoked = cli("tokens", "revoke", token["id"])

    assert revoked.exit_code == 0, revoked.output
    refused = cli("projects", "list", SKYFORGE_TOKEN=secret)
    assert refused.exit_code == 1
    assert "skyforge login" in refused.stderr
    assert secret not in refused.output
    table = cli("tokens", "list").stdout
    assert any("ci bot" in line and "revoked" in line for line in table.splitlines())


def test_a_token_cannot_have_a_wider_scope_than_the_credential_creating_it(cli: Cli) -> None:
    created = cli("tokens", "create", "reader", "--scope", "read")
    secret = next(line for line in created.stdout.splitlines() if line.startswith("sfp_"))

    result = cli("tokens", "create", "wider", "--scope", "admin", SKYFORGE_TOKEN=secret)

    assert result.exit_code == 1
    assert "cannot have a wider scope" in result.stderr


def test_members_are_added_listed_changed_and_removed(
    cli: Cli, project: str, make_user: Callable[..., str]
) -> None:
    email = make_user()

    added = cli("members", "add", email, "--role", "developer", "-p", project)
    assert added.exit_code == 0, added.output
    assert f"Added {email} to {project} as developer" in added.stdout
    assert members(cli, project)[email] == "developer"

    changed = cli("members", "set", email, "--role", "viewer", "-p", project)
    assert changed.exit_code == 0, changed.output
    table = cli("members", "list", "-p", project).stdout
    assert any(email in line and "viewer" in line for line in table.splitlines())

    kept = cli("members", "remove", email, "-p", project, input="n\n")
    assert kept.exit_code == 1
    assert email in members(cli, project)
    removed = cli("members", "remove", email, "-p", project, "--yes")
    assert removed.exit_code == 0, removed.output
    assert email not in members(cli, project)


def test_removing_someone_who_is_not_a_member_fails_before_asking(cli: Cli, project: str) -> None:
    result = cli("members", "remove", "nobody@example.com", "-p", project)

    assert result.exit_code == 1
    assert "nobody@example.com is not a member of" in result.stderr
    assert "?" not in result.stdout  # no prompt


def test_an_unknown_role_is_a_usage_error(cli: Cli, project: str) -> None:
    result = cli("members", "add", "a@example.com", "--role", "king", "-p", project)

    assert result.exit_code == 2


def test_a_viewer_cannot_deploy_and_is_told_why(
    cli: Cli, project: str, site: Path, make_user: Callable[..., str]
) -> None:
    assert cli("services", "create", "web", "-p", project, "--git", str(site)).exit_code == 0
    viewer = make_user()
    assert cli("members", "add", viewer, "--role", "viewer", "-p", project).exit_code == 0
    login = cli("login", "--email", viewer, "--password", PASSWORD, SKYFORGE_TOKEN=None)
    assert login.exit_code == 0, login.output

    result = cli("deploy", "web", "-p", project, SKYFORGE_TOKEN=None)

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: your role in '{project}' (viewer) does not allow service.deploy"
    )
    assert "Traceback" not in result.output


def test_an_invited_person_signs_up_and_logs_in(cli: Cli) -> None:
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    invited = cli("invite", email)
    assert invited.exit_code == 0, invited.output
    token = invited.stdout.strip().splitlines()[-1]
    assert token.startswith("sfi_")
    assert "skyforge signup" in invited.stderr

    signed = cli(
        "signup", "--email", email, "--name", "Grace", input=f"{token}\n{PASSWORD}\n{PASSWORD}\n"
    )

    assert signed.exit_code == 0, signed.output
    assert PASSWORD not in signed.output
    assert token not in signed.output
    login = cli("login", "--email", email, "--password", PASSWORD, SKYFORGE_TOKEN=None)
    assert login.exit_code == 0, login.output
    assert "Grace" in cli("whoami", SKYFORGE_TOKEN=None).stdout
