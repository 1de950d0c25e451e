"""`skyforge deploy`, `skyforge deploys`, `skyforge releases` and `skyforge rollback`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from skyforge.cli import follow as following
from skyforge.cli.client import connect, segment, service_path
from skyforge.cli.options import Follow, Json, Project, Quiet, Service
from skyforge.cli.output import fail, fields, ids, print_json, say, table, when

app = typer.Typer(help="List, follow and cancel deploys.", no_args_is_help=True)

DeployId = Annotated[str, typer.Argument(help="Deploy id (from `skyforge deploys list`).")]
Limit = Annotated[int, typer.Option(min=1, help="Show at most this many, newest first.")]


def deploy(service: Service, project: Project, follow: Follow = True) -> None:
    """Build the branch head and roll it out, following its output."""
    with connect() as api:
        queued = api.call("POST", f"{service_path(project, service)}/deploys")
        say(f"Deploying {service} in {project} (deploy {queued['id']})")
        following.start(api, project, service, queued, follow)


def rollback(
    service: Service,
    project: Project,
    release: Annotated[
        int | None, typer.Option(min=1, help="Release to go back to (default: the previous one).")
    ] = None,
    follow: Follow = True,
) -> None:
    """Roll back to an earlier release, following the rollout."""
    body = {"release": release} if release is not None else None
    with connect() as api:
        queued = api.call("POST", f"{service_path(project, service)}/rollback", json=body)
        target = f"v{release}" if release is not None else "the previous release"
        say(f"Rolling {service} in {project} back to {target} (deploy {queued['id']})")
        following.start(api, project, service, queued, follow)


def releases(
    service: Service,
    project: Project,
    limit: Limit = 20,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """List a service's releases, newest first (`-q`: their numbers only)."""
    with connect() as api:
        found = api.collect(f"{service_path(project, service)}/releases", limit)
    if as_json:
        print_json(found)
        return
    if quiet:
        ids(r["version"] for r in found)
        return
    rows = [
        (
            f"v{r['version']}",
            "*" if r["current"] else "",
            r["description"],
            ", ".join(r["config_names"]) or "-",
            when(r["created_at"]),
        )
        for r in found
    ]
    table(("VERSION", "CURRENT", "DESCRIPTION", "CONFIG VARS", "CREATED"), rows, "No releases yet.")


_SIGNS = (("added", "+"), ("changed", "~"), ("removed", "-"))


def _changes(found: dict[str, list[str]], versions: dict[str, int] | None = None) -> str:
    """One line per name: `+ NAME`, `~ NAME`, `- NAME` (with a secret's version)."""
    lines = []
    for kind, sign in _SIGNS:
        for name in found[kind]:
            version = (versions or {}).get(name)
            lines.append(f"{sign} {name}" + (f" v{version}" if version else ""))
    return "\n".join(lines) or "no change"


def release_info(
    version: Annotated[str, typer.Argument(help="Release number: 3 or v3.")],
    service: Service,
    project: Project,
    as_json: Json = False,
) -> None:
    """Show a release and what changed against the one before: config vars and secrets
    added (+), changed (~) or removed (-), by name only, and the commit."""
    number = version.removeprefix("v")
    if not (number.isascii() and number.isdigit() and 0 < int(number) < 2**31):
        fail(f"{version!r} is not a release number (for example 3 or v3)", code=2)
    with connect() as api:
        r = api.call("GET", f"{service_path(project, service)}/releases/{int(number)}")
    if as_json:
        print_json(r)
        return
    c = r["changes"]
    previous = "-" if c["previous"] is None else f"v{c['previous']}"
    rows: list[tuple[str, object]] = [
        ("Release", f"v{r['version']}" + (" (current)" if r["current"] else "")),
        ("Description", r["description"]),
        ("Commit", r["commit"] or "-"),
        ("Compared to", previous),
    ]
    if c["previous"] is not None:
        rows.append(("Its commit", c["previous_commit"] or "-"))
    rows += [
        ("Config vars", _changes(c["config"])),
        ("Secrets", _changes(c["secrets"], r["secrets"])),
        ("Build", r["build_id"]),
        ("Created", when(r["created_at"])),
    ]
    fields(rows)


def _release(d: dict[str, Any]) -> str:
    return "" if d["release"] is None else f"v{d['release']}"


@app.command("list")
def list_deploys(
    service: Service,
    project: Project,
    limit: Limit = 20,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """List a service's deploys, newest first."""
    with connect() as api:
        found = api.collect(f"{service_path(project, service)}/deploys", limit)
    if as_json:
        print_json(found)
        return
    if quiet:
        ids(d["id"] for d in found)
        return
    rows = [
        (d["id"], d["kind"], d["status"], _release(d), when(d["created_at"]), d["error"] or "")
        for d in found
    ]
    table(("ID", "KIND", "STATUS", "RELEASE", "CREATED", "ERROR"), rows, "No deploys yet.")


@app.command()
def cancel(deploy_id: DeployId, service: Service, project: Project) -> None:
    """Cancel a queued or running deploy; the current release keeps serving."""
    path = f"{service_path(project, service)}/deploys/{segment(deploy_id)}/cancel"
    with connect() as api:
        found = api.call("POST", path)
    if found["status"] == "cancelled":
        say(f"Cancelled deploy {deploy_id}.")
    else:
        say(f"Cancelling deploy {deploy_id} (it stops at the next safe point).")


@app.command()
def logs(
    deploy_id: DeployId,
    service: Service,
    project: Project,
    follow: Annotated[
        bool, typer.Option("--follow/--no-follow", help="Keep streaming until the deploy ends.")
    ] = True,
) -> None:
    """Print a deploy's build and rollout output (followed: then how it ended)."""
    with connect() as api:
        if follow:
            following.follow_deploy(api, project, service, {"id": deploy_id})
            return
        path = f"{service_path(project, service)}/deploys/{segment(deploy_id)}/logs"
        with api.stream(path, follow="false") as chunks:
            following.echo_stream(chunks)
