"""`skyforge ps`, `restart` and `run` against a real API (null runtime: nothing really runs)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli
from tests.cli.test_deploys import create_service, deployed  # noqa: F401 (a fixture)


def test_ps_restart_and_run_say_what_is_wrong_before_the_first_deploy(cli: Cli, site: Path) -> None:
    project = create_service(cli, site)
    listed = cli("ps", "web", "-p", project)
    assert listed.exit_code == 0 and "No processes run for web" in listed.output
    restarted = cli("restart", "web", "-p", project)
    assert restarted.exit_code == 1 and "nothing to restart" in restarted.output
    ran = cli("run", "web", "-p", project, "--", "echo", "hi")
    assert ran.exit_code == 1 and "deploy it first" in ran.output


def test_ps_lists_the_processes_and_restart_follows_to_the_end(cli: Cli, deployed: str) -> None:  # noqa: F811
    found = json.loads(cli("ps", "web", "-p", deployed, "--json").stdout)
    assert [(p["name"], p["state"], p["release"]) for p in found] == [("web.1", "up", 1)]
    table = cli("ps", "web", "-p", deployed, COLUMNS="80").stdout
    assert table.split()[:6] == ["PROCESS", "STATE", "RESTARTS", "AGE", "RELEASE", "PORT"]
    assert all(len(line) <= 80 for line in table.splitlines())

    restarted = cli("restart", "web", "-p", deployed, "web")
    assert restarted.exit_code == 0, restarted.output
    assert "Restarted web of web (v1)." in restarted.output
    kinds = json.loads(cli("deploys", "list", "web", "-p", deployed, "--json").stdout)
    assert [d["kind"] for d in kinds][:2] == ["restart", "build"]
    unknown = cli("restart", "web", "-p", deployed, "clock")
    assert unknown.exit_code == 1 and "no process type 'clock'" in unknown.output


def test_run_exits_with_the_status_of_the_command(cli: Cli, deployed: str) -> None:  # noqa: F811
    ran = cli("run", "web", "-p", deployed, "--", "python", "-c", "print(1)")
    assert ran.exit_code == 0, ran.output  # the null runtime's runs succeed, silently
    assert ran.stdout == ""
    detached = cli("run", "web", "-p", deployed, "--detach", "--", "sleep", "1")
    assert detached.exit_code == 0 and "Started run.2 of web" in detached.output
    unparsable = cli("run", "web", "-p", deployed, "--", "echo", "it's")
    assert unparsable.exit_code == 0  # quoted for the API by the CLI: no parse error


def test_the_help_of_ps_restart_and_run_shows_how_to_use_them(cli: Cli) -> None:
    for command, words in (
        ("ps", "state, restarts"),
        ("restart", "serve before the old ones stop"),
        ("run", "not run through a shell"),
    ):
        shown = cli(command, "--help")
        assert shown.exit_code == 0 and words in shown.output, command
