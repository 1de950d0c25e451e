"""`skyforge domains`: custom hostnames of a service, verified before they are routed."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from skyforge.cli.client import connect, segment
from skyforge.cli.options import Json, Project, Quiet
from skyforge.cli.output import ids, note, print_json, say, table, when

app = typer.Typer(help="Add, verify, list and remove custom domains.", no_args_is_help=True)

Hostname = Annotated[str, typer.Argument(help="The custom hostname, e.g. shop.example.com.")]
Service = Annotated[str, typer.Argument(help="The service it routes to.")]


def _path(project: str, service: str, hostname: str | None = None) -> str:
    path = f"/projects/{segment(project)}/services/{segment(service)}/domains"
    return path if hostname is None else f"{path}/{segment(hostname)}"


def _instructions(domain: dict[str, Any], service: str, project: str) -> None:
    txt = domain["verification"]["txt"]
    verify = f"skyforge domains verify {domain['hostname']} {service} -p {project}"
    say(f"Create this DNS record, then run `{verify}`:")
    typer.echo(f"  {txt['name']}  TXT  {txt['value']}")
    note(f"Or point {domain['hostname']} at this platform: {domain['verification']['http_url']}")


@app.command()
def add(
    hostname: Hostname,
    service: Service,
    project: Project,
    redirect_https: Annotated[
        bool, typer.Option("--redirect-https", help="Send plain HTTP requests to HTTPS.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Attach a hostname to a service; it is routed once verified."""
    body = {"hostname": hostname, "redirect_https": redirect_https}
    with connect() as api:
        domain = api.call("POST", _path(project, service), json=body)
    if as_json:
        print_json(domain)
        return
    say(f"Added {domain['hostname']} to {service} (pending).", style="green")
    _instructions(domain, service, project)


@app.command()
def verify(hostname: Hostname, service: Service, project: Project, as_json: Json = False) -> None:
    """Check the TXT record (then the HTTP token); a verified domain is routed at once."""
    with connect() as api:
        domain = api.call("POST", f"{_path(project, service, hostname)}/verify")
    if as_json:
        print_json(domain)
        return
    if domain["status"] == "ready":
        say(f"{domain['hostname']} is verified and routed to {service}.", style="green")
        return
    say(f"{domain['hostname']} is {domain['status']}: {domain['reason']}", style="yellow")
    _instructions(domain, service, project)
    raise typer.Exit(1)


@app.command("list")
def list_domains(
    service: Service, project: Project, as_json: Json = False, quiet: Quiet = False
) -> None:
    """List a service's custom domains and their status."""
    with connect() as api:
        found = api.call("GET", _path(project, service))["items"]
    if as_json:
        print_json(found)
        return
    if quiet:
        ids(d["hostname"] for d in found)
        return
    rows = [
        (
            d["hostname"],
            d["status"],
            "yes" if d["redirect_https"] else "-",
            when(d["verified_at"]) if d["verified_at"] else "-",
            d["reason"] or "",
        )
        for d in found
    ]
    table(("HOSTNAME", "STATUS", "HTTPS ONLY", "VERIFIED", "REASON"), rows, "No domains yet.")


@app.command()
def remove(hostname: Hostname, service: Service, project: Project) -> None:
    """Detach a hostname; it stops being routed at once."""
    with connect() as api:
        api.call("DELETE", _path(project, service, hostname))
    say(f"Removed {hostname} from {service}.")
